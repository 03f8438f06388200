/// Walks the members of a tar archive held in memory: ustar (name + prefix), GNU ('L'/'K' long
/// names, base-256 numbers), pax ('x' path/linkpath/size/mtime; 'g' skipped) and v7 headers.
/// Every number in the archive is untrusted: sizes are checked against the bytes that are there,
/// and arithmetic on them cannot overflow. Path safety is the caller's job.
public struct TarReader {
    let archive: ByteReader
    /// Offset of the next header in `archive`.
    public private(set) var offset = 0
    private var finished = false
    /// Streaming mode: a file member's data is not required to be present; `next()` stops at
    /// its first data byte (`offset == entry.dataOffset`) and the caller consumes data + padding.
    private let headersOnly: Bool

    public init(_ archive: ByteReader, headersOnly: Bool = false) {
        self.archive = archive
        self.headersOnly = headersOnly
    }

    /// Overrides collected from extension headers for the member that follows them.
    private struct Pending {
        var paxPath: [UInt8]?
        var paxLink: [UInt8]?
        var paxSize: Int?
        var paxMtime: Int64?
        var longName: [UInt8]?
        var longLink: [UInt8]?
        var hasOverrides = false
    }

    /// The next member, or nil at the end of the archive: two zero blocks, or (tolerated) the end of
    /// input right after one zero block or exactly at a header boundary.
    /// Throws `.tar` for a bad checksum, a malformed number or pax record, data running past the end,
    /// a name that is not UTF-8, and member types other than file, directory, symlink and hard link.
    public mutating func next() throws(FormatError) -> TarEntry? {
        if finished { return nil }
        var pending = Pending()
        let block = Tar.blockSize
        while true {
            let remaining = archive.count - offset
            if remaining == 0 {
                if pending.hasOverrides { throw fail("archive ends after an extended header, without its member") }
                finished = true
                return nil
            }
            guard remaining >= block else {
                throw fail("truncated header: \(remaining) bytes left, a header needs \(block)")
            }
            let h = try archive.slice(offset..<offset + block, region: "tar header")
            if isZero(h) {
                if pending.hasOverrides { throw fail("extended header followed by the end-of-archive marker") }
                let after = offset + block
                let left = archive.count - after
                if left == 0 { finished = true; offset = after; return nil }
                guard left >= block else { throw fail("truncated end-of-archive marker") }
                guard isZero(try archive.slice(after..<after + block, region: "tar header")) else {
                    throw fail("a single zero block followed by another header")
                }
                finished = true
                offset = after + block
                return nil
            }
            try verifyChecksum(h)

            let typeflag = h[Tar.typeflagOffset]
            let fieldSize = try numeric(h, Tar.sizeField, "size")
            guard fieldSize >= 0, let headerSize = Int(exactly: fieldSize) else {
                throw fail("negative size field")
            }
            let dataStart = offset + block
            switch typeflag {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                let data = try memberData(start: dataStart, size: headerSize)
                switch typeflag {
                case UInt8(ascii: "x"): try parsePax(data, into: &pending)
                case UInt8(ascii: "L"): pending.longName = cString(data, 0..<data.count)
                case UInt8(ascii: "K"): pending.longLink = cString(data, 0..<data.count)
                default: break  // global pax defaults: nothing in them matters for extraction
                }
                pending.hasOverrides = pending.hasOverrides || typeflag != UInt8(ascii: "g")
                offset = try advance(dataStart: dataStart, size: headerSize)
                continue
            default:
                break
            }

            // ustar and pax archives use "ustar\0"; GNU's "ustar  \0" has no prefix field
            // (GNU keeps atime/ctime there), and neither does v7.
            let isUstar = h.matches(Tar.ustarMagic, at: Tar.magicField.lowerBound)
            var pathBytes: [UInt8]
            if let p = pending.paxPath ?? pending.longName {
                pathBytes = p
            } else {
                pathBytes = cString(h, Tar.nameField)
                let prefix = isUstar ? cString(h, Tar.prefixField) : []
                if !prefix.isEmpty { pathBytes = prefix + [UInt8(ascii: "/")] + pathBytes }
            }
            let linkBytes = pending.paxLink ?? pending.longLink ?? cString(h, Tar.linknameField)

            let kind: TarEntryKind
            switch typeflag {
            case UInt8(ascii: "0"), UInt8(ascii: "7"):
                kind = .file  // '7' (contiguous) is a regular file to every reader that lacks the feature
            case 0:
                // v7 archives mark directories only by the trailing '/'.
                kind = pathBytes.last == UInt8(ascii: "/") ? .directory : .file
            case UInt8(ascii: "1"): kind = .hardlink
            case UInt8(ascii: "2"): kind = .symlink
            case UInt8(ascii: "5"): kind = .directory
            default:
                throw fail("unsupported member type \(typeName(typeflag)) for \(String(decoding: pathBytes, as: UTF8.self))")
            }
            if kind == .directory && pathBytes.last == UInt8(ascii: "/") { pathBytes.removeLast() }
            guard let path = String(validating: pathBytes, as: UTF8.self) else {
                throw fail("member name is not valid UTF-8")
            }
            var linkTarget = ""
            if kind == .symlink || kind == .hardlink {
                guard let target = String(validating: linkBytes, as: UTF8.self) else {
                    throw fail("link target of \(path) is not valid UTF-8")
                }
                linkTarget = target
            }

            // Only files carry data; for the other kinds the size field is ignored (as Go and GNU tar do).
            let size = kind == .file ? (pending.paxSize ?? headerSize) : 0
            if headersOnly && kind == .file {
                let mode = UInt32(truncatingIfNeeded: try numeric(h, Tar.modeField, "mode")) & 0o7777
                let mtime: Int64
                if let paxMtime = pending.paxMtime { mtime = paxMtime } else { mtime = try numeric(h, Tar.mtimeField, "mtime") }
                offset = dataStart
                finished = true  // the caller must start a new reader after the data
                return TarEntry(kind: kind, path: path, mode: mode, size: size, linkTarget: linkTarget, mtime: mtime, dataOffset: dataStart)
            }
            _ = try memberData(start: dataStart, size: size)
            let mode = UInt32(truncatingIfNeeded: try numeric(h, Tar.modeField, "mode")) & 0o7777
            let mtime: Int64
            if let paxMtime = pending.paxMtime { mtime = paxMtime } else { mtime = try numeric(h, Tar.mtimeField, "mtime") }
            let entry = TarEntry(kind: kind, path: path, mode: mode, size: size, linkTarget: linkTarget,
                                 mtime: mtime, dataOffset: dataStart)
            offset = try advance(dataStart: dataStart, size: size)
            return entry
        }
    }

    // MARK: Helpers

    private func fail(_ why: String) -> FormatError {
        .tar(why, offset: archive.origin + offset)
    }

    /// The data window of the current member; refused when it runs past the end of the archive.
    private func memberData(start: Int, size: Int) throws(FormatError) -> ByteReader {
        let left = archive.count - start
        guard size <= left else {
            throw fail("member data runs past the end of the archive (size \(size), \(left) bytes left)")
        }
        return try archive.slice(start..<start + size, region: "tar member")
    }

    /// Offset of the next header: data plus padding, all of which must be present.
    /// `size <= archive.count - dataStart` was checked, so the sums stay far below Int.max.
    private func advance(dataStart: Int, size: Int) throws(FormatError) -> Int {
        let padded = size + Tar.padding(after: size)
        guard padded <= archive.count - dataStart else { throw fail("archive ends inside the padding of a member") }
        return dataStart + padded
    }

    private func isZero(_ r: ByteReader) -> Bool {
        for i in 0..<r.count where r[i] != 0 { return false }
        return true
    }

    /// Bytes of `field` up to the first NUL.
    private func cString(_ r: ByteReader, _ field: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        for i in field {
            let b = r[i]
            if b == 0 { break }
            out.append(b)
        }
        return out
    }

    /// Accepts the unsigned sum (POSIX) and the signed one (old Sun and GNU tar).
    private func verifyChecksum(_ h: ByteReader) throws(FormatError) {
        let stored = try numeric(h, Tar.checksumField, "checksum")
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for i in 0..<Tar.blockSize {
            let b = Tar.checksumField.contains(i) ? 0x20 : h[i]
            unsigned += Int64(b)
            signed += Int64(Int8(bitPattern: b))
        }
        guard stored == unsigned || stored == signed else {
            throw fail("header checksum mismatch: stored \(stored), computed \(unsigned)")
        }
    }

    /// Octal (surrounding spaces and NULs ignored, empty = 0) or GNU base-256 when the high bit of the
    /// first byte is set. Overflow is an error, never a trap.
    private func numeric(_ h: ByteReader, _ field: Range<Int>, _ what: String) throws(FormatError) -> Int64 {
        let first = h[field.lowerBound]
        if first & 0x80 != 0 {
            let invert: UInt8 = first & 0x40 != 0 ? 0xFF : 0
            var x: UInt64 = 0
            for i in field {
                var c = h[i] ^ invert
                if i == field.lowerBound { c &= 0x7F }
                guard x >> 56 == 0 else { throw fail("base-256 \(what) field overflows") }
                x = x << 8 | UInt64(c)
            }
            guard x >> 63 == 0 else { throw fail("base-256 \(what) field overflows") }
            return invert == 0xFF ? ~Int64(x) : Int64(x)
        }
        var lo = field.lowerBound, hi = field.upperBound
        while lo < hi && (h[lo] == 0x20 || h[lo] == 0) { lo += 1 }
        while hi > lo && (h[hi - 1] == 0x20 || h[hi - 1] == 0) { hi -= 1 }
        var v: Int64 = 0
        for i in lo..<hi {
            let c = h[i]
            guard c >= 0x30 && c <= 0x37 else { throw fail("invalid octal digit in \(what) field") }
            guard v >> 60 == 0 else { throw fail("\(what) field overflows") }
            v = v << 3 | Int64(c - 0x30)
        }
        return v
    }

    /// pax records "%d key=value\n". Only path, linkpath, size and mtime matter; an empty value
    /// cancels the override; GNU sparse-file records are refused because the data would be misread.
    private func parsePax(_ r: ByteReader, into pending: inout Pending) throws(FormatError) {
        var p = 0
        while p < r.count {
            var length = 0
            var q = p
            while q < r.count, r[q] >= 0x30, r[q] <= 0x39 {
                let (m, o1) = length.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(r[q] - 0x30))
                guard !o1 && !o2 else { throw fail("pax record length overflows") }
                length = s
                q += 1
            }
            guard q > p, q < r.count, r[q] == 0x20 else { throw fail("malformed pax record length") }
            // The record must hold its digits, the space, a key, '=' and the final newline.
            guard length > q - p + 3, length <= r.count - p else { throw fail("pax record length out of range") }
            let end = p + length
            guard r[end - 1] == 0x0A else { throw fail("pax record does not end in a newline") }
            var eq = q + 1
            while eq < end - 1 && r[eq] != UInt8(ascii: "=") { eq += 1 }
            guard eq < end - 1, eq > q + 1 else { throw fail("pax record without a key") }
            let key = try r.copyBytes(q + 1..<eq)
            let value = try r.copyBytes(eq + 1..<end - 1)
            switch String(decoding: key, as: UTF8.self) {
            case "path": pending.paxPath = value.isEmpty ? nil : value
            case "linkpath": pending.paxLink = value.isEmpty ? nil : value
            case "size": pending.paxSize = value.isEmpty ? nil : try paxInteger(value, "size")
            case "mtime":
                // Fractional seconds are allowed; the entry keeps whole seconds.
                let whole = Array(value.prefix { $0 != UInt8(ascii: ".") })
                pending.paxMtime = value.isEmpty ? nil : try paxSignedInteger(whole, "mtime")
            case let k where k.hasPrefix("GNU.sparse."):
                throw fail("unsupported GNU sparse member (pax \(k))")
            default: break
            }
            p = end
        }
    }

    private func paxInteger(_ digits: [UInt8], _ what: String) throws(FormatError) -> Int {
        guard !digits.isEmpty else { throw fail("empty pax \(what)") }
        var v = 0
        for c in digits {
            guard c >= 0x30 && c <= 0x39 else { throw fail("invalid pax \(what)") }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(c - 0x30))
            guard !o1 && !o2 else { throw fail("pax \(what) overflows") }
            v = s
        }
        return v
    }

    private func paxSignedInteger(_ text: [UInt8], _ what: String) throws(FormatError) -> Int64 {
        let negative = text.first == UInt8(ascii: "-")
        let magnitude = try paxInteger(negative ? Array(text.dropFirst()) : text, what)
        return negative ? -Int64(magnitude) : Int64(magnitude)
    }

    private func typeName(_ t: UInt8) -> String {
        let shown = (0x21...0x7E).contains(t) ? "'" + String(decoding: [t], as: UTF8.self) + "'" : "0x" + hex(UInt64(t), width: 2)
        switch t {
        case UInt8(ascii: "3"): return shown + " (character device)"
        case UInt8(ascii: "4"): return shown + " (block device)"
        case UInt8(ascii: "6"): return shown + " (FIFO)"
        case UInt8(ascii: "S"): return shown + " (GNU sparse file)"
        case UInt8(ascii: "V"): return shown + " (volume label)"
        case UInt8(ascii: "M"): return shown + " (multi-volume continuation)"
        case UInt8(ascii: "D"): return shown + " (GNU dump directory)"
        default: return shown
        }
    }
}
