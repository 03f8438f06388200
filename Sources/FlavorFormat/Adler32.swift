/// zlib's Adler-32 (initial value 1). Used for the 8 KiB index, where a pure-Swift loop costs
/// a few microseconds and keeps this module free of C.
public enum Adler32 {
    public static func checksum(_ bytes: ByteReader, initial: UInt32 = 1) -> UInt32 {
        var a = initial & 0xffff, b = initial >> 16
        var i = 0
        let n = bytes.count
        while i < n {
            // 5552 is the largest run before b can overflow 32 bits (zlib's NMAX).
            let end = min(n, i + 5552)
            while i < end {
                // Runs of zeros leave `a` as it is and add it to `b` once per byte; the index block
                // this checks on every start is mostly zeros past its first 1.5 KiB.
                if i + 8 <= end && bytes.isZeroWord(at: i) { b &+= a &* 8; i += 8; continue }
                a &+= UInt32(bytes[i]); b &+= a; i += 1
            }
            a %= 65521; b %= 65521
        }
        return b << 16 | a
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withByteReader { checksum($0) }
    }
}
