/// SplitMix64 (Steele, Lea, Flood 2014): the benchmark corpus generators' only source of
/// randomness, and the seeded generator of the fuzz-style tests.
///
/// Our own, so that a seed gives the same bytes on every machine and toolchain, forever
/// (the standard library's generators make no such promise). Seed 0 yields
/// 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F (checked by the tests).
public struct SplitMix64: Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n (n > 0), by multiply-shift (no modulo bias worth measuring for n ≪ 2^32).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        return Int((UInt64(UInt32(truncatingIfNeeded: next() >> 32)) &* UInt64(n)) >> 32)
    }

    /// Uniform in range (inclusive).
    public mutating func within(_ r: ClosedRange<Int>) -> Int {
        r.lowerBound + below(r.upperBound - r.lowerBound + 1)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Fills `buffer` with generator output (little-endian words).
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var i = 0
        let n = buffer.count
        while i + 8 <= n {
            buffer.storeBytes(of: next().littleEndian, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        if i < n {
            var w = next()
            while i < n { buffer[i] = UInt8(truncatingIfNeeded: w); w >>= 8; i += 1 }
        }
    }
}
