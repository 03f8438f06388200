internal import CZstd

// Invariants: one-shot calls; buffers are the caller's and are touched only during a call.
// zstd frames carry their content size, which we still compare with the descriptor's.

public enum Zstd {
    public static func compressBound(_ n: Int) -> Int { ZSTD_compressBound(n) }

    public static func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, level: Int32) -> Int {
        let r = ZSTD_compress(output.baseAddress, output.count, input.baseAddress, input.count, level)
        return ZSTD_isError(r) != 0 ? 0 : r
    }

    public static func compress(_ input: [UInt8], level: Int32) -> [UInt8] {
        input.withUnsafeBytes { inp in
            var out = [UInt8](repeating: 0, count: compressBound(inp.count))
            let n = out.withUnsafeMutableBytes { compress(inp, into: $0, level: level) }
            precondition(n > 0, "zstd bound was too small")
            out.removeSubrange(n...)
            return out
        }
    }

    /// Decodes into an exactly sized buffer; a frame that needs more is an error, not a reallocation.
    public static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        if isLegacyFrame(input) { throw .corrupt("zstd: a pre-1.0 (v0.5–v0.7) frame, which Flavor does not read; re-pack it") }
        let r = ZSTD_decompress(output.baseAddress, output.count, input.baseAddress, input.count)
        if ZSTD_isError(r) != 0 {
            let name = String(cString: ZSTD_getErrorName(r))
            // Bytes, not String.contains(String): that comes from _StringProcessing, which the
            // Embedded Swift launcher does not have.
            let u = Array(name.utf8), k = Array("too small".utf8)
            if u.count >= k.count && (0...(u.count - k.count)).contains(where: { u[$0..<$0 + k.count].elementsEqual(k) }) {
                throw .tooLarge(limit: output.count)
            }
            throw .corrupt("zstd: \(name)")
        }
        return r
    }

    /// Content size stored in the frame header, if any.
    public static func frameContentSize(_ input: UnsafeRawBufferPointer) -> Int? {
        if isLegacyFrame(input) { return nil }
        let r = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        if r >= UInt64.max - 1 { return nil }  // ZSTD_CONTENTSIZE_UNKNOWN / _ERROR
        return r > UInt64(Int.max) ? nil : Int(r)
    }

    /// Frames of zstd's 2016 pre-release formats (magic 0xFD2FB525…27). Every reader refuses them, so
    /// that verify, extract and the launcher agree, and the launcher links none of their decoders.
    static func isLegacyFrame(_ input: UnsafeRawBufferPointer) -> Bool {
        guard input.count >= 4 else { return false }
        let magic = UInt32(input[0]) | UInt32(input[1]) << 8 | UInt32(input[2]) << 16 | UInt32(input[3]) << 24
        return (0xFD2F_B525...0xFD2F_B527).contains(magic)
    }
}
