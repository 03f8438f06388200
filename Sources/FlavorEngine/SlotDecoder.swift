import FlavorFormat
import FlavorSys

/// Undoes a slot's operation chain (last applied first) and hands the decoded bytes to `body`.
/// Raw and plain-tar slots are never copied: the window points into the package mapping.
public enum SlotDecoder {
    /// Decoded data larger than `limit` is refused, declared or not (a gzip bomb guard;
    /// `Settings.maxSlotBytes`, FLAVOR_MAX_SLOT_BYTES raises it).
    public static func withDecoded<R>(_ stored: ByteReader, chain: OperationChain, declaredSize: UInt64?, slotLabel: String, limit: Int,
                                      _ body: (ByteReader) throws(EngineError) -> R) throws(EngineError) -> R {
        var compression = chain.operations.filter { $0 != .tar }
        guard compression.count <= 1 else {
            throw EngineError(.extraction, "\(slotLabel): chained compression \(chain.manifestName) is not supported")
        }
        guard let codec = compression.popLast() else { return try body(stored) }
        if let d = declaredSize, d > UInt64(limit) {
            throw EngineError(.extraction, "\(slotLabel): declared decoded size \(d) exceeds the limit of \(limit) bytes (FLAVOR_MAX_SLOT_BYTES)")
        }
        let out: [UInt8]
        do throws(CodecError) {
            switch codec {
            case .gzip:
                if let exact = declaredSize {
                    out = try Inflater().gunzip(stored, exactSize: Int(exact))
                } else {
                    out = try Inflater().gunzip(stored, limit: limit)
                }
            case .zstd:
                out = try Zstd.decompress(stored, size: declaredSize.map { Int($0) }, limit: limit)
            case .tar:
                out = []
            }
        } catch {
            throw EngineError(.extraction, "\(slotLabel): \(codec.name) decoding failed: \(error)")
        }
        return try out.withByteReader { (r) throws(EngineError) -> R in try body(r) }
    }

    /// The exact decoded size a descriptor promises, or nil when it cannot be trusted as one
    /// (upstream Rust/Go builders write original_size = size because they never encode).
    public static func declaredSize(_ d: SlotDescriptor, _ chain: OperationChain) -> UInt64? {
        if chain.operations.allSatisfy({ $0 == .tar }) { return nil }
        return d.originalSize != d.size ? d.originalSize : nil
    }
}
