import FlavorFormat
import FlavorSys

/// Undoes a slot's operation chain (last applied first) and hands the decoded bytes to `body`.
/// Raw and plain-tar slots are never copied: the window points into the package mapping.
public enum SlotDecoder {
    /// Decoded data larger than this is refused unless the descriptor declares its size
    /// (a gzip bomb guard; FLAVOR_MAX_SLOT_BYTES raises it).
    public static var defaultLimit: Int { Settings.current.maxSlotBytes }

    public static func withDecoded<R>(_ stored: ByteReader, chain: OperationChain, declaredSize: UInt64?, slotLabel: String,
                                      _ body: (ByteReader) throws(EngineError) -> R) throws(EngineError) -> R {
        var compression = chain.operations.filter { $0 != .tar }
        guard compression.count <= 1 else {
            throw EngineError(.extraction, "\(slotLabel): chained compression \(chain.manifestName) is not supported")
        }
        guard let codec = compression.popLast() else { return try body(stored) }
        let limit = defaultLimit
        if let d = declaredSize, d > UInt64(limit) {
            throw EngineError(.extraction, "\(slotLabel): declared decoded size \(d) exceeds the limit of \(limit) bytes (FLAVOR_MAX_SLOT_BYTES)")
        }
        var out: [UInt8]
        do {
            out = try stored.withUnsafeBytes { (raw) throws(CodecError) -> [UInt8] in
                switch codec {
                case .gzip:
                    if let exact = declaredSize {
                        var buf = [UInt8](repeating: 0, count: Int(exact))
                        let n = try buf.withMutableBytes { (o) throws(CodecError) -> Int in try Inflater().gunzip(raw, into: o) }
                        guard n == Int(exact) else { throw CodecError.sizeMismatch(expected: Int(exact), actual: n) }
                        return buf
                    }
                    return try Inflater().gunzip(raw, limit: limit)
                case .zstd:
                    guard let size = declaredSize.map({ Int($0) }) ?? Zstd.frameContentSize(raw), size <= limit else {
                        throw CodecError.tooLarge(limit: limit)
                    }
                    var buf = [UInt8](repeating: 0, count: size)
                    let n = try buf.withMutableBytes { (o) throws(CodecError) -> Int in try Zstd.decompress(raw, into: o) }
                    guard n == size else { throw CodecError.sizeMismatch(expected: size, actual: n) }
                    return buf
                case .tar:
                    return []
                }
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
