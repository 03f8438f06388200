internal import CFlavorSHA256
import FlavorFormat

// Invariants: a SHA256 context is a value owned by one thread at a time; pointers passed to
// the C code live only for the duration of the call. CFlavorSHA256 uses SHA-NI when glibc's
// CPU features say so (about 2 GB/s here versus 335 MB/s for its portable C; docs/PERFORMANCE.md).

/// Incremental SHA-256.
public struct SHA256: Sendable {
    private var ctx = flavor_sha256_ctx()

    public init() { flavor_sha256_init(&ctx, 0) }

    /// `portable: true` never uses SHA-NI (tests compare the two paths).
    init(portable: Bool) { flavor_sha256_init(&ctx, portable ? 1 : 0) }

    /// Whether this CPU's SHA-NI path is in use.
    public static var accelerated: Bool { flavor_sha256_accelerated() != 0 }

    public mutating func update(_ buf: UnsafeRawBufferPointer) {
        guard buf.count > 0 else { return }
        flavor_sha256_update(&ctx, buf.baseAddress, buf.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ reader: ByteReader) {
        reader.withUnsafeBytes { update($0) }
    }

    public mutating func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBytes { flavor_sha256_final(&ctx, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        return out
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h = SHA256(); h.update(bytes); return h.finalize()
    }

    /// The digest of `bytes[range]`, without copying it out (pack hashes each file inside its tar buffer).
    public static func hash(_ bytes: [UInt8], range: Range<Int>) -> [UInt8] {
        bytes.withUnsafeBytes { hash(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    public static func hash(_ reader: ByteReader) -> [UInt8] {
        var h = SHA256(); h.update(reader); return h.finalize()
    }

    public static func hash(_ buf: UnsafeRawBufferPointer) -> [UInt8] {
        var h = SHA256(); h.update(buf); return h.finalize()
    }
}
