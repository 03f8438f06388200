import FlavorFormat
import FlavorSys
import Synchronization

/// Decodes one slot into a directory with the launchers' rules (spec §6): a chain containing
/// TAR unpacks at the root; anything else becomes one file at the slot's target.
public enum Extractor {
    public struct Outcome: Sendable {
        public var files: Int
        public var bytes: Int
        /// Where the slot landed, relative to the root ("" for tar slots unpacked at the root).
        public var relativePath: String
    }

    /// `chunkVerify`: the slot was not verified as a whole; a chunked slot verifies each chunk
    /// before decoding it (`inlineVerification`), reporting mismatches to this closure.
    public static func extract(_ pkg: PackageReader, slot i: Int, metadata: Metadata, into writer: TreeWriter, settings: Settings,
                               chunkVerify: (@Sendable (EngineError) -> Bool)? = nil) throws(EngineError) -> Outcome {
        let d = pkg.descriptors[i]
        let sm = metadata.slots[i]
        let label = "\(pkg.fileName): slot \(i) \"\(sm.id)\""
        let chain: OperationChain
        do { chain = try OperationChain(packed: d.operations) } catch { throw EngineError(.extraction, "\(label): \(error)") }
        let stored = try pkg.slotBytes(i)
        let before = (writer.filesWritten, writer.bytesWritten)
        let range = Int(d.offset)..<Int(d.offset + d.size)
        pkg.file.adviseSequential(range)
        defer { pkg.file.adviseDone(range) }
        let declared = SlotDecoder.declaredSize(d, chain)
        if chain.operations == [.tar, .gzip] {
            let index: ChunkedGzip.Index?
            do { index = try ChunkedGzip.index(stored) } catch { throw EngineError(.extraction, "\(label): \(error)") }
            if let index, index.chunks.count > 1 {
                try ChunkedExtractor.extract(pkg, slot: i, stored: stored, index: index, declaredSize: declared,
                                             signedHeaderDigest: sm.chunkIndexDigest, verify: chunkVerify, into: writer,
                                             settings: settings, what: label)
                try writer.finish()
                return Outcome(files: writer.filesWritten - before.0, bytes: writer.bytesWritten - before.1, relativePath: "")
            }
        }
        if chain.operations == [.tar, .gzip],
           max(Int(clamping: declared ?? 0), Inflater.gzipSizeHint(stored) ?? 0, stored.count) > settings.streamThreshold {
            try StreamingExtractor.extract(pkg, slot: i, stored: stored, declaredSize: declared, into: writer,
                                           limit: settings.maxSlotBytes, what: label)
            try writer.finish()
            return Outcome(files: writer.filesWritten - before.0, bytes: writer.bytesWritten - before.1, relativePath: "")
        }
        var rel = ""
        try SlotDecoder.withDecoded(stored, chain: chain, declaredSize: SlotDecoder.declaredSize(d, chain), slotLabel: label,
                                    limit: settings.maxSlotBytes) { (data) throws(EngineError) in
            if chain.containsTar {
                try writer.extractTar(data, what: label)
            } else {
                rel = sm.relativeTarget
                if rel.isEmpty { rel = "slot_\(i)_\(sm.id)" }  // Go's name for a raw slot aimed at the root
                let mode = UInt32(d.permissions) == 0 ? 0o600 : UInt32(d.permissions)
                try writer.writeFile(rel, data, mode: mode, what: label)
            }
            // Queued io_uring writes point into `data`: wait for them while it is alive.
            try writer.flush()
        }
        try writer.finish()
        return Outcome(files: writer.filesWritten - before.0, bytes: writer.bytesWritten - before.1, relativePath: rel)
    }
}

/// Collects the first errors raised on worker threads.
final class ErrorSink: Sendable {
    private let errors = Mutex<[EngineError]>([])
    func add(_ e: EngineError) { errors.withLock { $0.append(e) } }
    var first: EngineError? { errors.withLock { $0.first } }
    var failed: Bool { errors.withLock { !$0.isEmpty } }
}

extension Extractor {
    /// Verifies (unless `verify` is false) and extracts `slots` under `root` on a worker pool,
    /// biggest slot first. Each worker has its own TreeWriter; they share only the directory
    /// tree, where mkdir tolerates EEXIST and symlinks are refused from the disk state.
    public static func extractParallel(_ pkg: PackageReader, slots: [Int], metadata m: Metadata, root: String,
                                       verify: Bool, settings: Settings, backend: WriteBackend,
                                       onVerifyFailure: @escaping @Sendable (EngineError) -> Bool = { _ in false },
                                       progress: @escaping @Sendable (Int) -> Void = { _ in }) throws(EngineError) -> (files: Int, bytes: Int) {
        let order = slots.sorted { pkg.descriptors[$0].size > pkg.descriptors[$1].size }
        let sink = ErrorSink()
        let totalsBox = TotalsBox()
        WorkerPool.parallelFor(jobs: order.count, workers: settings.workerCount) { job, _ in
            if sink.failed { return }
            let i = order[job]
            do throws(EngineError) {
                var chunkVerify: (@Sendable (EngineError) -> Bool)? = nil
                if verify && inlineVerification(pkg, i, m) {
                    chunkVerify = onVerifyFailure
                } else if verify {
                    do throws(EngineError) { try Verifier.verifySlot(pkg, i, m) } catch {
                        if !onVerifyFailure(error) { throw error }
                    }
                }
                let writer = try TreeWriter(root: root, backend: backend, fileCreationMask: settings.fileCreationMask)
                let o = try extract(pkg, slot: i, metadata: m, into: writer, settings: settings, chunkVerify: chunkVerify)
                totalsBox.add(o.files, o.bytes)
                progress(i)
            } catch {
                sink.add(error)
            }
        }
        if let e = sink.first { throw e }
        return totalsBox.value
    }
}

extension Extractor {
    /// True for a chunked gzip tar slot whose header digest is in the signed metadata: its chunks
    /// are verified by the workers that decode them instead of one pass over the whole slot.
    static func inlineVerification(_ pkg: PackageReader, _ i: Int, _ m: Metadata) -> Bool {
        let sm = m.slots[i]
        guard !sm.selfRef, sm.chunkIndexDigest != nil,
              (try? OperationChain(packed: pkg.descriptors[i].operations))?.operations == [.tar, .gzip],
              let bytes = try? pkg.slotBytes(i), let index = try? ChunkedGzip.index(bytes) else { return false }
        return index.chunks.count > 1
    }
}

final class TotalsBox: Sendable {
    let totals = Mutex<(Int, Int)>((0, 0))
    func add(_ f: Int, _ b: Int) { totals.withLock { $0.0 += f; $0.1 += b } }
    var value: (files: Int, bytes: Int) { totals.withLock { ($0.0, $0.1) } }
}
