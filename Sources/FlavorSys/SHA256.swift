internal import CCrypto
import FlavorFormat

// Invariants: a SHA256 context is a value owned by one thread at a time; pointers passed to
// OpenSSL live only for the duration of the call. OpenSSL's SHA256 picks SHA-NI at run time
// (about 2 GB/s here versus 230 MB/s for libsodium's portable C; docs/PERFORMANCE.md).

/// Incremental SHA-256.
public struct SHA256: Sendable {
    private var ctx = SHA256_CTX()

    public init() { SHA256_Init(&ctx) }

    public mutating func update(_ buf: UnsafeRawBufferPointer) {
        guard buf.count > 0 else { return }
        SHA256_Update(&ctx, buf.baseAddress, buf.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ reader: ByteReader) {
        reader.withUnsafeBytes { update($0) }
    }

    public mutating func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBytes { _ = SHA256_Final($0.baseAddress!.assumingMemoryBound(to: UInt8.self), &ctx) }
        return out
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h = SHA256(); h.update(bytes); return h.finalize()
    }

    public static func hash(_ reader: ByteReader) -> [UInt8] {
        var h = SHA256(); h.update(reader); return h.finalize()
    }

    public static func hash(_ buf: UnsafeRawBufferPointer) -> [UInt8] {
        var h = SHA256(); h.update(buf); return h.finalize()
    }
}
