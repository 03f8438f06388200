import FlavorFormat
import FlavorSys

/// Decodes one slot into a directory with the launchers' rules (spec §6): a chain containing
/// TAR unpacks at the root; anything else becomes one file at the slot's target.
public enum Extractor {
    public struct Outcome: Sendable {
        public var files: Int
        public var bytes: Int
        /// Where the slot landed, relative to the root ("" for tar slots unpacked at the root).
        public var relativePath: String
    }

    public static func extract(_ pkg: PackageReader, slot i: Int, metadata: Metadata, into writer: TreeWriter) throws(EngineError) -> Outcome {
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
        var rel = ""
        try SlotDecoder.withDecoded(stored, chain: chain, declaredSize: SlotDecoder.declaredSize(d, chain), slotLabel: label) { (data) throws(EngineError) in
            if chain.containsTar {
                try writer.extractTar(data, what: label)
            } else {
                rel = sm.relativeTarget
                if rel.isEmpty { rel = "slot_\(i)_\(sm.id)" }  // Go's name for a raw slot aimed at the root
                let mode = UInt32(d.permissions) == 0 ? 0o600 : UInt32(d.permissions)
                try writer.writeFile(rel, data, mode: mode, what: label)
            }
        }
        writer.finish()
        return Outcome(files: writer.filesWritten - before.0, bytes: writer.bytesWritten - before.1, relativePath: rel)
    }
}
