import CFlavorSHA256

/// SHA-256 for corpus digests, over the project's own C implementation (CFlavorSHA256: SHA-NI when
/// the CPU has it). The harness links nothing else of Flavor's; checked against `sha256sum` by the tests.
struct SHA256 {
    private var ctx = flavor_sha256_ctx()

    init() { flavor_sha256_init(&ctx, 0) }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        flavor_sha256_update(&ctx, bytes.baseAddress, bytes.count)
    }

    mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        let a = Array(bytes)
        a.withUnsafeBytes { update($0) }
    }

    mutating func update(_ s: String) { update(Array(s.utf8)) }

    mutating func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { flavor_sha256_final(&ctx, $0.baseAddress!) }
        return out
    }

    mutating func hexDigest() -> String { hex(finish()) }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}
