import FlavorFormat
import FlavorSys
import Synchronization

/// One member to frame into a shard: where its bytes come from and its tar header fields.
struct TarItem: Sendable {
    var member: String
    var kind: TarEntryKind
    var source: String       // file to read (regular files), "" otherwise
    var size: Int
    var mode: UInt32
    var mtime: Int64
    var linkTarget: String

    /// Bytes this member adds to a tar stream (ustar header; pax headers are rare and small).
    var estimatedTarBytes: Int { 512 + size + Tar.padding(after: size) }
}

/// Work for one stored slot: a file stored as given, or a tar shard to frame and compress.
enum PackJob: Sendable {
    case file(path: String, slot: String)
    case shard(items: [TarItem], codec: Operation?, slot: String)

    var estimatedBytes: Int {
        switch self {
        case let .file(path, _): return (try? FS.lstat(path).size) ?? 0
        case let .shard(items, _, _): return items.reduce(0) { $0 + $1.estimatedTarBytes }
        }
    }
}

struct EncodedSlot: Sendable {
    var stored: [UInt8]
    var original: Int
    var digest: [UInt8]
}

final class EncodedStore: Sendable {
    private let slots: Mutex<[EncodedSlot?]>
    init(count: Int) { slots = Mutex([EncodedSlot?](repeating: nil, count: count)) }
    func set(_ i: Int, _ e: EncodedSlot) { slots.withLock { $0[i] = e } }
    func all() -> [EncodedSlot?] { slots.withLock { $0 } }
}

extension Packer {
    /// Tar bytes per shard. Fixed (not derived from the core count) so that output is the same
    /// on every machine; 8 MiB gives ~15 shards for a 120 MB tree, enough to keep every core busy
    /// on pack and unpack while each worker's buffers stay small.
    public static let shardBytes = 8 << 20

    /// Slots as written (each directory's extra shards appended after all declared slots, so
    /// `{slot:N}` keeps meaning what the manifest said) and one job per written slot.
    static func expand(_ plan: PackPlan) throws(EngineError) -> ([PackSlot], [PackJob]) {
        var slots = [PackSlot](), jobs = [PackJob]()
        var extra = [(PackSlot, PackJob)]()
        for s in plan.slots {
            switch s.content {
            case let .file(path):
                slots.append(s); jobs.append(.file(path: path, slot: s.id))
            case let .directory(path):
                let items = try TarBuilder.collect(directory: path, prefix: SlotMetadata.relative(s.target),
                                                   mtime: plan.sourceDateEpoch, preserveSymlinks: plan.preserveSymlinks, slot: s.id)
                let codec = s.chain.operations.first { $0 != .tar }
                let shards = cut(items, limit: shardBytes)
                slots.append(s); jobs.append(.shard(items: shards[0], codec: codec, slot: s.id))
                for (k, shard) in shards.enumerated().dropFirst() {
                    var part = s
                    part.id = "\(s.id).part\(k + 1)"
                    extra.append((part, .shard(items: shard, codec: codec, slot: part.id)))
                }
            }
        }
        for (s, j) in extra { slots.append(s); jobs.append(j) }
        return (slots, jobs)
    }

    /// Cuts at member boundaries once a shard holds `limit` bytes (a big file gets a shard of its own).
    static func cut(_ items: [TarItem], limit: Int) -> [[TarItem]] {
        var shards = [[TarItem]](), cur = [TarItem](), bytes = 0
        for it in items {
            if !cur.isEmpty && bytes + it.estimatedTarBytes > limit {
                shards.append(cur); cur = []; bytes = 0
            }
            cur.append(it); bytes += it.estimatedTarBytes
        }
        shards.append(cur)
        return shards
    }

    static func encodeParallel(_ jobs: [PackJob], plan: PackPlan) throws(EngineError) -> [EncodedSlot] {
        try encodeParallel(jobs, gzipLevel: plan.gzipLevel, zstdLevel: plan.zstdLevel)
    }

    static func encodeParallel(_ jobs: [PackJob], gzipLevel: Int32, zstdLevel: Int32) throws(EngineError) -> [EncodedSlot] {
        let store = EncodedStore(count: jobs.count)
        let sink = ErrorSink()
        let sizes = jobs.map(\.estimatedBytes)
        let order = jobs.indices.sorted { sizes[$0] > sizes[$1] }
        let workers = Settings.current.workers > 0 ? Settings.current.workers : WorkerPool.coreCount
        WorkerPool.parallelFor(jobs: jobs.count, workers: workers) { n, _ in
            if sink.failed { return }
            let i = order[n]
            do throws(EngineError) {
                store.set(i, try encode(jobs[i], gzipLevel: gzipLevel, zstdLevel: zstdLevel))
            } catch {
                sink.add(error)
            }
        }
        if let e = sink.first { throw e }
        return store.all().map { $0! }
    }

    static func encode(_ job: PackJob, gzipLevel: Int32, zstdLevel: Int32) throws(EngineError) -> EncodedSlot {
        switch job {
        case let .file(path, slot):
            do {
                let f = try MappedFile(path: path)
                return EncodedSlot(stored: f.bytes.toArray(), original: f.size, digest: SHA256.hash(f.bytes))
            } catch {
                throw EngineError(.config, "slot \"\(slot)\": source \(path): \(error.reason)")
            }
        case let .shard(items, codec, slot):
            var tar = [UInt8]()
            tar.reserveCapacity(items.reduce(1024) { $0 + $1.estimatedTarBytes })
            for it in items {
                switch it.kind {
                case .file:
                    let f: MappedFile
                    do { f = try MappedFile(path: it.source) } catch {
                        throw EngineError(.config, "slot \"\(slot)\": \(it.source): \(error.reason)")
                    }
                    // The tree may change under us; the header must describe what we copy.
                    tar += Tar.header(kind: .file, path: it.member, mode: it.mode, size: f.size, mtime: it.mtime)
                    tar.append(f.bytes)
                    tar += [UInt8](repeating: 0, count: Tar.padding(after: f.size))
                default:
                    tar += Tar.header(kind: it.kind, path: it.member, mode: it.mode, size: 0, linkTarget: it.linkTarget, mtime: it.mtime)
                }
            }
            tar += Tar.endOfArchive
            let stored: [UInt8]
            switch codec {
            case .gzip?: stored = Deflater(level: gzipLevel).gzip(tar)
            case .zstd?: stored = Zstd.compress(tar, level: zstdLevel)
            default: stored = tar
            }
            return EncodedSlot(stored: stored, original: tar.count, digest: SHA256.hash(stored))
        }
    }
}
