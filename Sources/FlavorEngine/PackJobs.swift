import FlavorFormat
import FlavorSys
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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
    /// `declared`: the outermost operation the manifest says the file's bytes already carry.
    case file(path: String, slot: String, declared: Operation?)
    case shard(items: [TarItem], codec: Operation?, slot: String)

    var estimatedBytes: Int {
        switch self {
        case let .file(path, _, _): return (try? FS.lstat(path).size) ?? 0
        case let .shard(items, _, _): return items.reduce(0) { $0 + $1.estimatedTarBytes }
        }
    }
}

struct EncodedSlot: Sendable {
    /// The stored bytes, as pieces written one after the other (one piece but for chunked gzip);
    /// empty once moved to the spool.
    var segments: [[UInt8]]
    var storedSize: Int
    /// Where the bytes are in the pack's spool, when a big pack moved them there.
    var spooledAt: Int? = nil
    var original: Int
    var digest: [UInt8]
    /// SHA-256 of a ChunkedGzip header (signed in the metadata), nil for other slots.
    var chunkIndexDigest: [UInt8]? = nil
    /// SHA-256 of every regular file the slot puts in the workenv (the attestation's content
    /// listing), hashed while the worker has the bytes in cache.
    var contentFiles: [ContentFile] = []

    init(stored: [UInt8], original: Int, digest: [UInt8]) {
        segments = [stored]; storedSize = stored.count; self.original = original; self.digest = digest
    }

    init(member: ChunkedGzip.Member, original: Int) {
        segments = member.segments; storedSize = member.count; self.original = original
        var h = SHA256()
        for s in segments { h.update(s) }
        digest = h.finalize()
        chunkIndexDigest = SHA256.hash(member.header)
    }

    var stored: [UInt8] { segments.count == 1 ? segments[0] : Array(segments.joined()) }
}

/// One worker's buffers, reused from shard to shard: the tar stream and the compressor (with
/// its output space). Fresh multi-MiB buffers per shard cost a page fault per 4 KiB each time.
struct PackScratch {
    var tar: [UInt8] = []
    var deflater: Deflater?

    mutating func deflater(level: Int32) -> Deflater {
        if let d = deflater, d.level == level { return d }
        let d = Deflater(level: level)
        deflater = d
        return d
    }
}

final class WorkerScratch: Sendable {
    let state = Mutex(PackScratch())
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
    static func expand(_ plan: PackPlan, settings: Settings) throws(EngineError) -> ([PackSlot], [PackJob]) {
        var slots = [PackSlot](), jobs = [PackJob]()
        var extra = [(PackSlot, PackJob)]()
        for s in plan.slots {
            switch s.content {
            case let .file(path):
                slots.append(s); jobs.append(.file(path: path, slot: s.id, declared: s.chain.operations.last))
            case .generated:
                continue
            case let .directory(path):
                let items = try TarBuilder.collect(directory: path, prefix: SlotMetadata.relative(s.target),
                                                   mtime: plan.sourceDateEpoch, preserveSymlinks: plan.preserveSymlinks, slot: s.id,
                                                   workers: settings.workerCount)
                let codec = s.chain.operations.first { $0 != .tar }
                let shards = cut(items, limit: s.shardBytes ?? shardBytes, alone: 4 * settings.gzipChunkBytes)
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

    /// Cuts at member boundaries into shards of about equal size, at most `limit` bytes each, and
    /// a multiple of 4 of them, so that 1, 2 or 4 cores get the same amount of work. A file of
    /// `alone` bytes or more gets a shard of its own (ChunkedGzip spreads it over the cores).
    static func cut(_ items: [TarItem], limit: Int, alone: Int? = nil) -> [[TarItem]] {
        let alone = min(alone ?? limit, limit)
        let total = items.reduce(0) { $0 + $1.estimatedTarBytes }
        var count = max(1, (total + limit - 1) / limit)
        if count > 1 { count = (count + 3) / 4 * 4 }
        let target = (total + count - 1) / count
        var shards = [[TarItem]](), cur = [TarItem](), seen = 0
        for it in items {
            let size = it.estimatedTarBytes
            let big = size >= alone
            if !cur.isEmpty && (big || seen + size > (shards.count + 1) * target) {
                shards.append(cur); cur = []
            }
            cur.append(it); seen += size
            if big { shards.append(cur); cur = [] }
        }
        if !cur.isEmpty || shards.isEmpty { shards.append(cur) }
        return shards
    }

    static func encodeParallel(_ jobs: [PackJob], plan: PackPlan, settings: Settings, spool: Spool? = nil) throws(EngineError) -> [EncodedSlot] {
        try encodeParallel(jobs, gzipLevel: plan.gzipLevel, zstdLevel: plan.zstdLevel, settings: settings, spool: spool)
    }

    /// With `spool`, each encoded slot is appended to it and dropped from memory.
    static func encodeParallel(_ jobs: [PackJob], gzipLevel: Int32, zstdLevel: Int32, settings: Settings,
                               spool: Spool? = nil) throws(EngineError) -> [EncodedSlot] {
        let store = EncodedStore(count: jobs.count)
        let sink = ErrorSink()
        let sizes = jobs.map(\.estimatedBytes)
        let order = jobs.indices.sorted { sizes[$0] > sizes[$1] }
        let workers = settings.workerCount
        let scratch = (0..<max(1, workers)).map { _ in WorkerScratch() }
        WorkerPool.parallelFor(jobs: jobs.count, workers: workers) { n, w in
            if sink.failed { return }
            let i = order[n]
            do throws(EngineError) {
                var e = try scratch[w].state.withLock { (s) throws(EngineError) -> EncodedSlot in
                    try encode(jobs[i], gzipLevel: gzipLevel, zstdLevel: zstdLevel, settings: settings, scratch: &s)
                }
                if let spool {
                    do { e.spooledAt = try spool.append(e.segments) } catch { throw EngineError(.io, "spooling encoded slots: \(error)") }
                    e.segments = []
                }
                store.set(i, e)
            } catch {
                sink.add(error)
            }
        }
        if let e = sink.first { throw e }
        return store.all().map { $0! }
    }

    static func encode(_ job: PackJob, gzipLevel: Int32, zstdLevel: Int32, settings: Settings,
                       scratch: inout PackScratch) throws(EngineError) -> EncodedSlot {
        switch job {
        case let .file(path, slot, declared):
            let f: MappedFile
            do { f = try MappedFile(path: path) } catch {
                throw EngineError(.config, "slot \"\(slot)\": source \(path): \(error.reason)")
            }
            // A file is stored as given: bytes that are not what its operations declare would pack
            // fine and then fail every launch.
            if let op = declared, !carries(f.bytes, op) {
                throw EngineError(.config, "slot \"\(slot)\": source \(path) is not \(op.name) data, but its operations say it is (a file source is stored as given: compress it first, or declare operations \"none\")")
            }
            return EncodedSlot(stored: f.bytes.toArray(), original: f.size, digest: SHA256.hash(f.bytes))
        case let .shard(items, codec, slot):
            let chunk = settings.gzipChunkBytes
            if codec == .gzip, let source = bigFileSource(items, chunk: chunk) {
                // One big file: its chunks are read and compressed on every core (ChunkedGzip),
                // straight from the file; the tar stream is never held whole.
                let workers = settings.workerCount
                do {
                    let member = try ChunkedGzip.compress(source, level: gzipLevel, chunkSize: chunk, workers: workers)
                    var e = EncodedSlot(member: member, original: source.count)
                    e.contentFiles = [ContentFile(path: items[0].member, digest: try hashFile(items[0].source))]
                    return e
                } catch {
                    throw EngineError(.config, "slot \"\(slot)\": \(error)")
                }
            }
            var files = [ContentFile]()
            let used = try frame(items, slot: slot, into: &scratch.tar, digests: &files)
            let stored: [UInt8]
            switch codec {
            case .gzip?: stored = scratch.deflater(level: gzipLevel).gzip(scratch.tar, range: 0..<used)
            case .zstd?: stored = Zstd.compress(Array(scratch.tar[0..<used]), level: zstdLevel)
            default: stored = Array(scratch.tar[0..<used])
            }
            var e = EncodedSlot(stored: stored, original: used, digest: SHA256.hash(stored))
            e.contentFiles = files
            return e
        }
    }

    /// SHA-256 of a file read through a mapping, released behind us (a big file's chunks are
    /// compressed out of order, so its digest is a pass of its own).
    static func hashFile(_ path: String) throws(SysError) -> [UInt8] {
        let f = try MappedFile(path: path)
        return SHA256.hash(f.bytes)
    }

    /// Whether `bytes` start like data of `op`: gzip's and zstd's magic numbers, ustar's at offset 257.
    static func carries(_ bytes: ByteReader, _ op: Operation) -> Bool {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + magic.count && (0..<magic.count).allSatisfy { bytes[offset + $0] == magic[$0] }
        }
        switch op {
        case .gzip: return starts([0x1F, 0x8B])
        case .zstd: return starts([0x28, 0xB5, 0x2F, 0xFD])
        case .tar: return bytes.count == 0 || starts(Array("ustar".utf8), at: 257)
        }
    }

    /// The tar stream of a shard that is one file of at least 4 chunks, as pieces read on demand.
    static func bigFileSource(_ items: [TarItem], chunk: Int) -> ChunkedGzip.Source? {
        guard items.count == 1, let it = items.first, it.kind == .file, it.estimatedTarBytes >= 4 * chunk else { return nil }
        let header = Tar.header(kind: .file, path: it.member, mode: it.mode, size: it.size, mtime: it.mtime)
        let tail = [UInt8](repeating: 0, count: Tar.padding(after: it.size) + Tar.endOfArchive.count)
        let source = ChunkedGzip.Source([.bytes(header), .file(path: it.source, size: it.size), .bytes(tail)])
        return ChunkedGzip.chunkSize(for: source.count, preferred: chunk) == nil ? nil : source
    }

    /// The tar stream of a shard, framed into `tar` (a worker's reused buffer, so every byte of
    /// the stream is written here, padding included); returns its length. Files are read straight
    /// into the buffer (no mmap: for thousands of small files the map/unmap pairs cost more than the
    /// copy, and unmapping on several threads at once makes the kernel shoot down TLBs on every
    /// core), each opened relative to its directory so the kernel walks one path component.
    static func frame(_ items: [TarItem], slot: String, into tar: inout [UInt8], digests: inout [ContentFile]) throws(EngineError) -> Int {
        let need = items.reduce(2 * Tar.blockSize) { $0 + $1.estimatedTarBytes + 1 }
        if tar.count < need { tar += repeatElement(0, count: need - tar.count) }
        var used = 0
        func reserve(_ n: Int) { if used + n > tar.count { tar += repeatElement(0, count: used + n - tar.count) } }
        func place(_ bytes: [UInt8]) {
            reserve(bytes.count)
            tar.replaceSubrange(used..<used + bytes.count, with: bytes)
            used += bytes.count
        }
        func zeros(_ n: Int) {
            reserve(n)
            tar.replaceSubrange(used..<used + n, with: repeatElement(0, count: n))
            used += n
        }
        var dir = DirectoryHandle()
        defer { dir.close() }
        for it in items {
            guard it.kind == .file else {
                place(Tar.header(kind: it.kind, path: it.member, mode: it.mode, size: 0, linkTarget: it.linkTarget, mtime: it.mtime))
                continue
            }
            place(Tar.header(kind: .file, path: it.member, mode: it.mode, size: it.size, mtime: it.mtime))
            // One byte more than expected, to notice a file that grew since it was listed.
            let want = it.size + 1
            reserve(want)
            let got: Int
            do throws(SysError) {
                let fd = try dir.open(it.source)
                defer { FS.close(fd) }
                got = try FS.readFully(fd, into: &tar, at: used, count: want, enough: it.size, path: it.source)
            } catch {
                throw EngineError(.config, "slot \"\(slot)\": \(error)")
            }
            // The header is already written: the bytes must be the ones it describes.
            guard got == it.size else {
                throw EngineError(.config, "slot \"\(slot)\": \(it.source) changed size while packing (listed with \(it.size) bytes, now \(got > it.size ? "more" : "\(got)")); pack again when the tree is quiet")
            }
            digests.append(ContentFile(path: it.member, digest: SHA256.hash(tar, range: used..<used + it.size)))
            used += it.size
            zeros(Tar.padding(after: it.size))
        }
        zeros(Tar.endOfArchive.count)
        return used
    }
}

/// The directory of the file opened last, kept open: files of a shard come directory by
/// directory, so most opens are `openat(dir, name)` instead of a walk of the whole path.
struct DirectoryHandle {
    private var path = ""
    private var fd: Int32 = -1

    mutating func open(_ file: String) throws(SysError) -> Int32 {
        let u = file.utf8
        guard let slash = u.lastIndex(of: UInt8(ascii: "/")), slash != u.startIndex else { return try FS.open(file, O_RDONLY) }
        let parent = String(Substring(u[..<slash]))
        if parent != path || fd < 0 {
            close()
            fd = try FS.open(parent, O_RDONLY | O_DIRECTORY)
            path = parent
        }
        do { return try FS.openAt(fd, String(Substring(u[u.index(after: slash)...])), O_RDONLY) } catch {
            throw SysError(op: "open", path: file, errno: error.errno)
        }
    }

    mutating func close() {
        if fd >= 0 { FS.close(fd) }
        fd = -1
    }

}
