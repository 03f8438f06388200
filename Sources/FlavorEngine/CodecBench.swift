import FlavorFormat
import FlavorSys
import Synchronization

/// In-process codec comparison for `flavor bench`: the same tar shards the packer would make,
/// compressed and decompressed with each codec on N workers. No disk writes in the timings, so
/// the figures compare codecs, not file systems.
public enum CodecBench {
    public struct Codec: Sendable, Equatable {
        public var operation: Operation?   // nil = store
        public var level: Int32
        public var name: String { operation.map { "\($0.name):\(level)" } ?? "none" }

        /// "gzip:6", "zstd:19", "none".
        public init?(_ text: String) {
            let parts = text.lowercased().split(separator: ":")
            switch parts.first {
            case "none"?: operation = nil; level = 0
            case "gzip"?: operation = .gzip; level = parts.count > 1 ? Int32(parts[1]) ?? 6 : 6
                guard (1...12).contains(level) else { return nil }
            case "zstd"?: operation = .zstd; level = parts.count > 1 ? Int32(parts[1]) ?? 3 : 3
                guard (1...22).contains(level) else { return nil }
            default: return nil
            }
        }
    }

    public struct Row: Sendable {
        public var codec: String
        public var workers: Int
        public var inputBytes: Int
        public var storedBytes: Int
        public var packSeconds: Double
        public var unpackSeconds: Double
        public var ratio: Double { inputBytes == 0 ? 1 : Double(storedBytes) / Double(inputBytes) }
        public var packMBps: Double { Double(inputBytes) / 1e6 / max(packSeconds, 1e-9) }
        public var unpackMBps: Double { Double(inputBytes) / 1e6 / max(unpackSeconds, 1e-9) }
    }

    /// Frames `directory` into shards once, then times each codec × worker count (best of `repeats`).
    public static func run(directory: String, codecs: [Codec], workers: [Int], repeats: Int = 3, settings: Settings,
                           progress: (String) -> Void = { _ in }) throws(EngineError) -> [Row] {
        let items = try TarBuilder.collect(directory: directory, prefix: "", mtime: 0, preserveSymlinks: false, slot: "bench",
                                           workers: settings.workerCount)
        let shards = Packer.cut(items, limit: Packer.shardBytes)
        // Frame once (store codec): these are the inputs every codec sees.
        let tars = try Packer.encodeParallel(shards.map { .shard(items: $0, codec: nil, slot: "bench") },
                                             gzipLevel: 6, zstdLevel: 3, settings: settings).map(\.stored)
        let input = tars.reduce(0) { $0 + $1.count }
        var rows = [Row]()
        for codec in codecs {
            for w in workers {
                progress("\(codec.name) × \(w) worker\(w == 1 ? "" : "s")")
                var best: Row?
                for _ in 0..<max(1, repeats) {
                    let store = EncodedStore(count: tars.count)
                    let t0 = MonotonicClock.now()
                    WorkerPool.parallelFor(jobs: tars.count, workers: w) { i, _ in
                        let out: [UInt8]
                        switch codec.operation {
                        case .gzip?: out = Deflater(level: codec.level).gzip(tars[i])
                        case .zstd?: out = Zstd.compress(tars[i], level: codec.level)
                        default: out = tars[i]
                        }
                        store.set(i, EncodedSlot(stored: out, original: tars[i].count, digest: []))
                    }
                    let t1 = MonotonicClock.now()
                    let encoded = store.all().map { $0! }
                    let sink = ErrorSink()
                    WorkerPool.parallelFor(jobs: encoded.count, workers: w) { i, _ in
                        let e = encoded[i]
                        let chain = OperationChain(codec.operation.map { [.tar, $0] } ?? [.tar])
                        do throws(EngineError) {
                            try e.stored.withByteReader { (r) throws(EngineError) in
                                try SlotDecoder.withDecoded(r, chain: chain, declaredSize: UInt64(e.original), slotLabel: "bench",
                                                            limit: settings.maxSlotBytes) { (tar) throws(EngineError) in
                                    var reader = TarReader(tar)
                                    do { while try reader.next() != nil {} } catch { throw EngineError(.extraction, "\(error)") }
                                }
                            }
                        } catch { sink.add(error) }
                    }
                    if let e = sink.first { throw e }
                    let t2 = MonotonicClock.now()
                    let row = Row(codec: codec.name, workers: w, inputBytes: input, storedBytes: encoded.reduce(0) { $0 + $1.stored.count },
                                  packSeconds: t1 - t0, unpackSeconds: t2 - t1)
                    if best == nil || row.packSeconds + row.unpackSeconds < best!.packSeconds + best!.unpackSeconds { best = row }
                }
                if let best { rows.append(best) }
            }
        }
        return rows
    }
}

/// Times extraction with each write backend on the cache's own file system, so that
/// FLAVOR_IO=auto can follow what this host measures.
public enum IOCalibration {
    public struct Result: Sendable {
        public var posixSeconds: Double
        public var uringSeconds: Double?   // nil when io_uring is unavailable
        public var files: Int
        public var preferred: WriteBackend { (uringSeconds ?? .infinity) < posixSeconds ? .uring : .posix }
    }

    /// Packs `directory` with `launcher` into a scratch package under the cache root, extracts it
    /// `repeats` times per backend (alternating), and returns the medians.
    public static func run(directory: String, launcher: String, settings: Settings, repeats: Int) throws(EngineError) -> Result {
        let scratch = settings.cacheRoot + "/calibrate-\(Process.id)"
        try FS.mkdirsOrThrow(scratch)
        defer { try? FS.removeTree(scratch) }
        var plan = PackPlan(name: "calibrate", version: "0", launcherPath: launcher, command: "/bin/true", key: Ed25519.keyPair(seedString: "calibrate"))
        plan.slots = [PackSlot(id: "tree", source: directory, target: "{workenv}", content: .directory(directory), chain: .tgz)]
        let pkgPath = scratch + "/calibrate.psp"
        _ = try Packer.pack(plan, to: pkgPath, settings: settings)
        let pkg = try PackageReader(path: pkgPath)
        let m = try Verifier.verifyHeader(pkg)
        var posix = [Double](), uring = [Double](), files = 0
        let backends: [WriteBackend] = WriteBackend.uringUnavailableReason == nil ? [.posix, .uring] : [.posix]
        for r in 0..<max(1, repeats) {
            for b in (r % 2 == 0 ? backends : backends.reversed()) {
                let root = scratch + "/out-\(b.rawValue)"
                try? FS.removeTree(root)
                let t0 = MonotonicClock.now()
                let n = try Extractor.extractParallel(pkg, slots: Array(0..<pkg.descriptors.count), metadata: m, root: root,
                                                      verify: true, settings: settings, backend: b)
                let dt = MonotonicClock.now() - t0
                files = n.files
                if b == .posix { posix.append(dt) } else { uring.append(dt) }
                try? FS.removeTree(root)
            }
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        return Result(posixSeconds: median(posix), uringSeconds: uring.isEmpty ? nil : median(uring), files: files)
    }
}
