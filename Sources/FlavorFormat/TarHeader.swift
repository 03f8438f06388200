extension Tar {
    /// Header block(s) for one member: a pax extended header ('x') first when the path or link target
    /// does not fit ustar name/prefix (100/155 split at a '/') or linkname (100), or is not ASCII, or when
    /// size/mtime do not fit 11 octal digits; then the ustar header. uid/gid 0, uname/gname "",
    /// devmajor/minor 0, magic "ustar\0" version "00". Directories get a trailing '/' in the name.
    /// The caller appends `size` data bytes and `padding(after: size)` zero bytes.
    /// A negative size, or a non-zero size for anything but a file, is a caller bug and traps.
    public static func header(kind: TarEntryKind, path: String, mode: UInt32, size: Int,
                              linkTarget: String = "", mtime: Int64) -> [UInt8] {
        precondition(size >= 0 && (kind == .file || size == 0), "tar header: size \(size) for a non-file or negative")
        var name = Array(path.utf8)
        if kind == .directory && name.last != UInt8(ascii: "/") { name.append(UInt8(ascii: "/")) }
        let link = Array(linkTarget.utf8)

        var records: [UInt8] = []
        let split = isPlainASCII(name) ? ustarSplit(name) : nil
        if split == nil { appendPaxRecord(&records, key: "path", value: name) }
        let linkFits = link.count <= linknameField.count && isPlainASCII(link)
        if !linkFits { appendPaxRecord(&records, key: "linkpath", value: link) }
        if Int64(size) > maxOctal11 { appendPaxRecord(&records, key: "size", value: Array(String(size).utf8)) }
        if mtime < 0 || mtime > maxOctal11 { appendPaxRecord(&records, key: "mtime", value: Array(String(mtime).utf8)) }

        var out: [UInt8] = []
        if !records.isEmpty {
            out.reserveCapacity(3 * blockSize + records.count)
            out += headerBlock(typeflag: UInt8(ascii: "x"), name: Array("././@PaxHeader".utf8), prefix: [],
                               mode: 0o644, size: Int64(records.count), mtime: min(max(mtime, 0), maxOctal11), link: [])
            out += records
            out += repeatElement(0, count: padding(after: records.count))
        }
        let typeflag: UInt8
        switch kind {
        case .file: typeflag = UInt8(ascii: "0")
        case .hardlink: typeflag = UInt8(ascii: "1")
        case .symlink: typeflag = UInt8(ascii: "2")
        case .directory: typeflag = UInt8(ascii: "5")
        }
        // When pax carries the real name, the ustar fields hold a best-effort ASCII stand-in for old readers.
        let (prefix, shortName) = split ?? ([], fallbackName(name))
        out += headerBlock(typeflag: typeflag, name: shortName, prefix: prefix, mode: mode & 0o7777,
                           size: Int64(size), mtime: mtime, link: linkFits ? link : fallbackName(link))
        return out
    }

    /// Splits a >100-byte ASCII name at a '/' into prefix (<= 155) and name (1...100), as ustar allows.
    static func ustarSplit(_ name: [UInt8]) -> (prefix: [UInt8], name: [UInt8])? {
        let n = name.count
        if n <= nameField.count { return ([], name) }
        guard n <= prefixField.count + 1 + nameField.count else { return nil }
        // The rightmost usable '/' gives the shortest name part; if that is too long, so are all others.
        // Stopping at n - 2 keeps the name part non-empty (a directory's trailing '/' is not a split point).
        var i = min(prefixField.count, n - 2)
        while i >= 1 {
            if name[i] == UInt8(ascii: "/") {
                guard n - i - 1 <= nameField.count else { return nil }
                return (Array(name[..<i]), Array(name[(i + 1)...]))
            }
            i -= 1
        }
        return nil
    }

    static func isPlainASCII(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 != 0 && $0 < 0x80 }
    }

    /// The last 100 bytes of the name with non-ASCII bytes dropped (a directory keeps its '/').
    private static func fallbackName(_ name: [UInt8]) -> [UInt8] {
        var ascii = name.filter { $0 != 0 && $0 < 0x80 }
        if ascii.count > nameField.count { ascii.removeFirst(ascii.count - nameField.count) }
        return ascii
    }

    /// One "%d key=value\n" record; the length counts its own digits.
    static func appendPaxRecord(_ out: inout [UInt8], key: String, value: [UInt8]) {
        let body = 1 + key.utf8.count + 1 + value.count + 1  // " key=value\n"
        var length = body + String(body).utf8.count
        if String(length).utf8.count != String(body).utf8.count { length = body + String(length).utf8.count }
        out += String(length).utf8
        out.append(0x20)
        out += key.utf8
        out.append(UInt8(ascii: "="))
        out += value
        out.append(0x0A)
    }

    static func headerBlock(typeflag: UInt8, name: [UInt8], prefix: [UInt8], mode: UInt32, size: Int64,
                            mtime: Int64, link: [UInt8]) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], _ field: Range<Int>) {
            for (k, b) in bytes.prefix(field.count).enumerated() { h[field.lowerBound + k] = b }
        }
        put(name, nameField)
        putOctal(&h, UInt64(mode), modeField)
        putOctal(&h, 0, uidField)
        putOctal(&h, 0, gidField)
        putNumeric(&h, size, sizeField)
        putNumeric(&h, mtime, mtimeField)
        h[typeflagOffset] = typeflag
        put(link, linknameField)
        put(ustarMagic, magicField)
        put(Array("00".utf8), versionField)
        putOctal(&h, 0, devmajorField)
        putOctal(&h, 0, devminorField)
        put(prefix, prefixField)
        for i in checksumField { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + UInt64($1) }
        // Six digits, NUL, space: what GNU tar and Go write.
        putOctal(&h, sum, checksumField.lowerBound..<checksumField.upperBound - 1)
        return h
    }

    /// Zero-padded octal digits filling all but the last byte of `field`, then NUL.
    private static func putOctal(_ h: inout [UInt8], _ value: UInt64, _ field: Range<Int>) {
        var v = value
        var i = field.upperBound - 2
        while i >= field.lowerBound {
            h[i] = UInt8(ascii: "0") + UInt8(v & 7)
            v >>= 3
            i -= 1
        }
        h[field.upperBound - 1] = 0
    }

    /// Octal when it fits, else GNU base-256 (two's complement, high bit of the first byte set);
    /// the writer also emits a pax record for such values, which is what pax-aware readers use.
    private static func putNumeric(_ h: inout [UInt8], _ value: Int64, _ field: Range<Int>) {
        if value >= 0 && value <= maxOctal11 {
            putOctal(&h, UInt64(value), field)
            return
        }
        var v = UInt64(bitPattern: value)
        let fill: UInt8 = value < 0 ? 0xFF : 0
        var i = field.upperBound - 1
        while i >= field.lowerBound {
            h[i] = i >= field.upperBound - 8 ? UInt8(truncatingIfNeeded: v) : fill
            if i >= field.upperBound - 8 { v >>= 8 }
            i -= 1
        }
        h[field.lowerBound] |= 0x80
    }
}
