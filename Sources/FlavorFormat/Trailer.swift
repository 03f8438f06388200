/// The MagicTrailer: "📦" + 8192-byte index + "🪄", ending exactly at EOF (spec §1–2).
public enum Trailer {
    public static let startMagic: [UInt8] = [0xF0, 0x9F, 0x93, 0xA6]  // 📦
    public static let endMagic: [UInt8] = [0xF0, 0x9F, 0xAA, 0x84]    // 🪄
    public static let byteCount = 4 + PackageIndex.byteCount + 4

    /// Offset of the index inside a file of `fileSize` bytes, after checking both magics.
    public static func locateIndex(in file: ByteReader) throws(FormatError) -> Int {
        guard file.count >= byteCount else {
            throw .truncated(region: "trailer", offset: 0, need: byteCount, have: file.count)
        }
        let start = file.count - byteCount
        guard file.matches(startMagic, at: start) else { throw .badMagic(region: "trailer start (📦)", offset: start) }
        guard file.matches(endMagic, at: file.count - 4) else { throw .badMagic(region: "trailer end (🪄)", offset: file.count - 4) }
        return start + 4
    }

    public static func encode(index: [UInt8]) -> [UInt8] {
        precondition(index.count == PackageIndex.byteCount)
        return startMagic + index + endMagic
    }
}
