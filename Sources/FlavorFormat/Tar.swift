/// The member types a directory slot may contain; everything else (devices, FIFOs, sparse files)
/// is refused by `TarReader`.
public enum TarEntryKind: Sendable, Equatable {
    case file, directory, symlink, hardlink
}

/// One member as `TarReader` found it. Data is not copied: it lives at
/// `dataOffset ..< dataOffset + size` of the archive bytes given to the reader.
public struct TarEntry: Sendable, Equatable {
    public var kind: TarEntryKind
    /// As stored (no normalisation), except that directories lose one trailing '/'.
    public var path: String
    /// Permission bits only (`& 0o7777`).
    public var mode: UInt32
    /// Data bytes; 0 for everything but files.
    public var size: Int
    /// Symlink or hard link target, "" otherwise.
    public var linkTarget: String
    public var mtime: Int64
    /// Offset of the data in the archive bytes given to the reader (relative to that window).
    public var dataOffset: Int

    public init(kind: TarEntryKind, path: String, mode: UInt32, size: Int, linkTarget: String = "",
                mtime: Int64, dataOffset: Int) {
        self.kind = kind
        self.path = path
        self.mode = mode
        self.size = size
        self.linkTarget = linkTarget
        self.mtime = mtime
        self.dataOffset = dataOffset
    }
}

/// Tar framing (ustar + pax) without copying data: writers get header bytes and append content and
/// padding themselves; `TarReader` reports where each member's data lies.
public enum Tar {
    public static let blockSize = 512

    /// End-of-archive marker: two zero blocks.
    public static let endOfArchive = [UInt8](repeating: 0, count: 2 * blockSize)

    /// Zero bytes needed after `size` data bytes to reach the next 512 boundary.
    public static func padding(after size: Int) -> Int {
        precondition(size >= 0, "negative tar member size")
        return (blockSize - size % blockSize) % blockSize
    }

    // ustar field layout (POSIX.1-1988): offset and width of each header field.
    static let nameField = 0..<100
    static let modeField = 100..<108
    static let uidField = 108..<116
    static let gidField = 116..<124
    static let sizeField = 124..<136
    static let mtimeField = 136..<148
    static let checksumField = 148..<156
    static let typeflagOffset = 156
    static let linknameField = 157..<257
    static let magicField = 257..<263
    static let versionField = 263..<265
    static let devmajorField = 329..<337
    static let devminorField = 337..<345
    static let prefixField = 345..<500

    static let ustarMagic: [UInt8] = Array("ustar\u{0}".utf8)
    static let gnuMagic: [UInt8] = Array("ustar  \u{0}".utf8)  // magic + version as GNU tar writes them

    /// Largest value an 11-digit octal field (size, mtime) can hold: 8 GiB - 1.
    static let maxOctal11: Int64 = 0o77777777777
}
