import Foundation
import Testing
import FlavorTestSupport
@testable import FlavorFormat

// MARK: Helpers

/// One member: header from `Tar.header`, then data and padding, as the packer frames it.
private func member(_ kind: TarEntryKind, _ path: String, mode: UInt32 = 0o644, data: [UInt8] = [],
                    link: String = "", mtime: Int64 = 1_700_000_000) -> [UInt8] {
    Tar.header(kind: kind, path: path, mode: mode, size: data.count, linkTarget: link, mtime: mtime)
        + data + [UInt8](repeating: 0, count: Tar.padding(after: data.count))
}

private func readAll(_ archive: [UInt8]) throws(FormatError) -> [TarEntry] {
    try archive.withByteReader { (r: ByteReader) throws(FormatError) -> [TarEntry] in
        var reader = TarReader(r)
        var entries: [TarEntry] = []
        while let e = try reader.next() { entries.append(e) }
        #expect(try reader.next() == nil)
        return entries
    }
}

/// The tar error message, or nil when reading succeeded or failed some other way.
private func tarFailure(_ archive: [UInt8]) -> String? {
    do throws(FormatError) {
        _ = try readAll(archive)
        return nil
    } catch {
        if case let .tar(why, _) = error { return why }
        return nil
    }
}

private func data(of entry: TarEntry, in archive: [UInt8]) -> [UInt8] {
    Array(archive[entry.dataOffset..<entry.dataOffset + entry.size])
}

/// Rewrites the checksum of the header block at `at` (unsigned sum, six digits, NUL, space).
private func fixChecksum(_ a: inout [UInt8], at: Int = 0, signed: Bool = false) {
    for i in 148..<156 { a[at + i] = 0x20 }
    var sum = 0
    for i in 0..<512 { sum += signed ? Int(Int8(bitPattern: a[at + i])) : Int(a[at + i]) }
    let digits = Array(String(sum, radix: 8).utf8)
    let padded = [UInt8](repeating: 0x30, count: 6 - digits.count) + digits
    for (k, b) in padded.enumerated() { a[at + 148 + k] = b }
    a[at + 154] = 0
}

/// A raw header block with GNU or ustar magic, for hand-built archives.
private func rawHeader(name: [UInt8], type: UInt8, size: Int, link: [UInt8] = [], gnu: Bool = true) -> [UInt8] {
    var h = [UInt8](repeating: 0, count: 512)
    for (k, b) in name.prefix(100).enumerated() { h[k] = b }
    for (k, b) in Array("0000644\0".utf8).enumerated() { h[100 + k] = b }
    for (k, b) in Array("0000000\0".utf8).enumerated() { h[108 + k] = b; h[116 + k] = b }
    let octal = Array(String(size, radix: 8).utf8)
    for (k, b) in ([UInt8](repeating: 0x30, count: 11 - octal.count) + octal).enumerated() { h[124 + k] = b }
    for (k, b) in Array("14524770400\0".utf8).enumerated() { h[136 + k] = b }
    h[156] = type
    for (k, b) in link.prefix(100).enumerated() { h[157 + k] = b }
    let magic = gnu ? Array("ustar  \0".utf8) : Array("ustar\u{0}00".utf8)
    for (k, b) in magic.enumerated() { h[257 + k] = b }
    fixChecksum(&h)
    return h
}

private func padded(_ bytes: [UInt8]) -> [UInt8] {
    bytes + [UInt8](repeating: 0, count: Tar.padding(after: bytes.count))
}

/// A pax header whose data is exactly `raw` (for malformed records).
private func paxHeader(raw: String, type: UInt8 = UInt8(ascii: "x")) -> [UInt8] {
    let body = Array(raw.utf8)
    return rawHeader(name: Array("././@PaxHeader".utf8), type: type, size: body.count, gnu: false) + padded(body)
}

/// A pax header with well-formed records.
private func paxHeader(_ records: KeyValuePairs<String, String>, type: UInt8 = UInt8(ascii: "x")) -> [UInt8] {
    var body: [UInt8] = []
    for (k, v) in records { Tar.appendPaxRecord(&body, key: k, value: Array(v.utf8)) }
    return paxHeader(raw: String(decoding: body, as: UTF8.self), type: type)
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

// MARK: Writer

@Suite("Tar header writer")
struct TarHeaderTests {
    @Test("each kind round-trips through TarReader with one 512-byte header", arguments: [
        (TarEntryKind.file, "bin/tool", UInt32(0o755), 1000, ""),
        (.file, "empty", 0o600, 0, ""),
        (.file, "exact", 0o644, 512, ""),
        (.directory, "lib/sub", 0o700, 0, ""),
        (.symlink, "lib/link", 0o777, 0, "../bin/tool"),
        (.hardlink, "bin/alias", 0o755, 0, "bin/tool"),
    ])
    func roundTrip(_ kind: TarEntryKind, _ path: String, _ mode: UInt32, _ size: Int, _ link: String) throws {
        let content = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let header = Tar.header(kind: kind, path: path, mode: mode, size: size, linkTarget: link, mtime: 1_700_000_123)
        #expect(header.count == 512)
        let archive = member(kind, path, mode: mode, data: content, link: link, mtime: 1_700_000_123) + Tar.endOfArchive
        let entries = try readAll(archive)
        #expect(entries == [TarEntry(kind: kind, path: path, mode: mode, size: size, linkTarget: link,
                                     mtime: 1_700_000_123, dataOffset: 512)])
        #expect(data(of: entries[0], in: archive) == content)
    }

    @Test("the header bytes carry ustar magic, zero ids, empty owner names and a valid checksum")
    func fields() throws {
        let h = Tar.header(kind: .file, path: "a.txt", mode: 0o100644, size: 5, mtime: 8)
        #expect(Array(h[100..<108]) == bytes("0000644\0"))
        #expect(Array(h[108..<124]) == bytes("0000000\00000000\0"))
        #expect(Array(h[124..<136]) == bytes("00000000005\0"))
        #expect(Array(h[136..<148]) == bytes("00000000010\0"))
        #expect(h[156] == UInt8(ascii: "0"))
        #expect(Array(h[257..<265]) == bytes("ustar\u{0}00"))
        #expect(h[265..<329].allSatisfy { $0 == 0 })
        #expect(Array(h[329..<345]) == bytes("0000000\00000000\0"))
        #expect(h[154] == 0 && h[155] == 0x20)
        var copy = h
        fixChecksum(&copy)
        #expect(copy == h)
    }

    @Test("directories are written with a trailing slash and read back without it", arguments: ["lib/sub", "lib/sub/"])
    func directorySlash(_ path: String) throws {
        let h = Tar.header(kind: .directory, path: path, mode: 0o755, size: 0, mtime: 0)
        #expect(Array(h[0..<8]) == bytes("lib/sub/"))
        #expect(h[8] == 0)
        #expect(try readAll(h + Tar.endOfArchive).map(\.path) == ["lib/sub"])
    }

    @Test("a path of 101 to 256 bytes is split into ustar prefix and name without pax")
    func prefixSplit() throws {
        let dir = String(repeating: "d", count: 120), file = String(repeating: "f", count: 90)
        let path = dir + "/" + file
        let h = Tar.header(kind: .file, path: path, mode: 0o644, size: 0, mtime: 0)
        #expect(h.count == 512)
        #expect(Array(h[345..<465]) == bytes(dir))
        #expect(Array(h[0..<90]) == bytes(file))
        #expect(try readAll(h + Tar.endOfArchive).map(\.path) == [path])
    }

    @Test("paths that ustar cannot hold go into a pax header", arguments: [
        String(repeating: "abcdefghi/", count: 30) + "file.txt",  // 308 bytes
        String(repeating: "x", count: 101),                        // one component, no split point
        String(repeating: "p", count: 150) + "/" + String(repeating: "n", count: 101),
        "données/naïve-日本語.txt",                                   // not ASCII
    ])
    func paxPath(_ path: String) throws {
        let content = bytes("hello")
        let archive = member(.file, path, data: content) + Tar.endOfArchive
        #expect(archive[156] == UInt8(ascii: "x"))
        let entries = try readAll(archive)
        #expect(entries.count == 1)
        #expect(entries[0].path == path)
        #expect(data(of: entries[0], in: archive) == content)
    }

    @Test("a long directory path keeps its kind and loses its trailing slash")
    func longDirectory() throws {
        let path = String(repeating: "long-directory-name/", count: 15) + "end"
        let entries = try readAll(member(.directory, path, mode: 0o755) + Tar.endOfArchive)
        #expect(entries.map(\.path) == [path])
        #expect(entries.map(\.kind) == [.directory])
    }

    @Test("a link target longer than 100 bytes or not ASCII goes into pax linkpath", arguments: [
        String(repeating: "../", count: 40) + "target", "ziel-ü",
    ])
    func paxLink(_ target: String) throws {
        let archive = member(.symlink, "l", link: target) + member(.hardlink, "h", link: target) + Tar.endOfArchive
        let entries = try readAll(archive)
        #expect(entries.map(\.linkTarget) == [target, target])
        #expect(entries.map(\.kind) == [.symlink, .hardlink])
    }

    @Test("mode keeps only the permission bits")
    func modeMask() throws {
        let entries = try readAll(member(.file, "f", mode: 0o104755) + Tar.endOfArchive)
        #expect(entries[0].mode == 0o4755)
    }

    @Test("an mtime outside the octal field goes into pax and reads back", arguments: [-1, -86_400 * 365, 0o77777777777 + 1, 1 << 40] as [Int64])
    func paxMtime(_ mtime: Int64) throws {
        let entries = try readAll(member(.file, "f", mtime: mtime) + Tar.endOfArchive)
        #expect(entries[0].mtime == mtime)
    }

    @Test("a size above 8 GiB gets a pax size record and a base-256 size field")
    func hugeSize() throws {
        let size = 9_000_000_000
        let h = Tar.header(kind: .file, path: "big", mode: 0o644, size: size, mtime: 0)
        #expect(h.count == 1536)
        let paxData = String(decoding: h[512..<1024].prefix { $0 != 0 }, as: UTF8.self)
        #expect(paxData == "19 size=9000000000\n")
        let field = Array(h[1024 + 124..<1024 + 136])
        #expect(field[0] == 0x80)
        #expect(field[1...].reduce(0) { $0 << 8 | Int($1) } == size)
        // The data is not there, so the reader must refuse it rather than trust the size.
        #expect(tarFailure(h + Tar.endOfArchive)?.contains("past the end") == true)
    }

    @Test("padding reaches the next 512-byte boundary", arguments: [(0, 0), (1, 511), (511, 1), (512, 0), (513, 511), (1024, 0)])
    func padding(_ size: Int, _ pad: Int) {
        #expect(Tar.padding(after: size) == pad)
    }

    @Test("the end-of-archive marker is two zero blocks")
    func endMarker() {
        #expect(Tar.endOfArchive == [UInt8](repeating: 0, count: 1024))
    }

    @Test("pax record lengths count their own digits across the 9/10 and 99/100 boundaries")
    func paxRecordLengths() {
        for valueLength in 0..<120 {
            var out: [UInt8] = []
            Tar.appendPaxRecord(&out, key: "path", value: [UInt8](repeating: 0x61, count: valueLength))
            let digits = out.prefix { $0 != 0x20 }
            #expect(Int(String(decoding: digits, as: UTF8.self)) == out.count)
        }
    }
}

// MARK: Reader

@Suite("Tar reader")
struct TarReaderTests {
    @Test("a GNU archive with 'L' long name and 'K' long link is read")
    func gnuLongNames() throws {
        let longName = String(repeating: "n", count: 180) + "/file.bin"
        let longLink = String(repeating: "t", count: 150)
        var archive: [UInt8] = []
        archive += rawHeader(name: bytes("././@LongLink"), type: UInt8(ascii: "L"), size: longName.utf8.count + 1)
        archive += padded(bytes(longName) + [0])
        archive += rawHeader(name: bytes(longName), type: UInt8(ascii: "0"), size: 5)
        archive += padded(bytes("12345"))
        archive += rawHeader(name: bytes("././@LongLink"), type: UInt8(ascii: "K"), size: longLink.utf8.count + 1)
        archive += padded(bytes(longLink) + [0])
        archive += rawHeader(name: bytes("sym"), type: UInt8(ascii: "2"), size: 0, link: bytes(longLink))
        archive += Tar.endOfArchive
        let entries = try readAll(archive)
        #expect(entries.map(\.path) == [longName, "sym"])
        #expect(entries.map(\.kind) == [.file, .symlink])
        #expect(entries[1].linkTarget == longLink)
        #expect(data(of: entries[0], in: archive) == bytes("12345"))
        #expect(entries[0].mode == 0o644)
        #expect(entries[0].mtime == 0o14524770400)
    }

    @Test("a GNU header does not use the ustar prefix field")
    func gnuIgnoresPrefix() throws {
        var h = rawHeader(name: bytes("name"), type: UInt8(ascii: "0"), size: 0)
        for (k, b) in bytes("atime-ish").enumerated() { h[345 + k] = b }
        fixChecksum(&h)
        #expect(try readAll(h + Tar.endOfArchive).map(\.path) == ["name"])
    }

    @Test("a base-256 size field is read")
    func base256Size() throws {
        var archive = member(.file, "f", data: [UInt8](repeating: 7, count: 700)) + Tar.endOfArchive
        let field: [UInt8] = [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0xBC]
        archive.replaceSubrange(124..<136, with: field)
        fixChecksum(&archive)
        let entries = try readAll(archive)
        #expect(entries[0].size == 700)
        #expect(data(of: entries[0], in: archive) == [UInt8](repeating: 7, count: 700))
    }

    @Test("hostile size fields throw instead of trapping", arguments: [
        [0x80] + [UInt8](repeating: 0xFF, count: 11),                   // overflows 63 bits
        [0xFF] + [UInt8](repeating: 0xFF, count: 11),                   // base-256 -1
        [0x80, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], // Int64.max
        Array("77777777777\0".utf8),                                    // 8 GiB - 1, not present
        Array("7777777777777777777777".utf8.prefix(12)),               // 12 octal digits, no terminator
        Array("12345678\0\0\0\0".utf8),                                 // '8' is not octal
        Array("1 2\0\0\0\0\0\0\0\0\0".utf8),                            // embedded space
    ])
    func hostileSizes(_ field: [UInt8]) {
        var archive = member(.file, "f", data: [1, 2, 3]) + Tar.endOfArchive
        archive.replaceSubrange(124..<136, with: field)
        fixChecksum(&archive)
        #expect(tarFailure(archive) != nil)
    }

    @Test("a corrupt header checksum is refused")
    func badChecksum() {
        var archive = member(.file, "file", data: [1]) + Tar.endOfArchive
        archive[0] = UInt8(ascii: "g")
        #expect(tarFailure(archive)?.contains("checksum") == true)
    }

    @Test("a checksum computed over signed bytes is accepted")
    func signedChecksum() throws {
        var archive = member(.file, "file") + Tar.endOfArchive
        for (k, b) in Array("jürgen".utf8).enumerated() { archive[265 + k] = b }  // uname
        fixChecksum(&archive, signed: true)
        #expect(try readAll(archive).map(\.path) == ["file"])
    }

    @Test("an archive cut short is refused", arguments: [100, 511, 600, 1023, 1100, 1600, 2047])
    func truncated(_ keep: Int) {
        // Header, 1000 data bytes, 24 padding, then the next member; cuts inside each part.
        let archive = member(.file, "f", data: [UInt8](repeating: 1, count: 1000)) + member(.file, "g", data: [2])
        #expect(tarFailure(Array(archive.prefix(keep))) != nil)
    }

    @Test("a size running past the end of the archive is refused")
    func sizePastEnd() {
        var archive = member(.file, "f", data: [UInt8](repeating: 1, count: 10))
        archive.replaceSubrange(124..<136, with: bytes("00000023420\0"))  // 10000
        fixChecksum(&archive)
        #expect(tarFailure(archive + Tar.endOfArchive)?.contains("past the end") == true)
    }

    @Test("devices, FIFOs and other member types are refused, naming the path", arguments: [
        (UInt8(ascii: "3"), "character device"), (UInt8(ascii: "4"), "block device"), (UInt8(ascii: "6"), "FIFO"),
        (UInt8(ascii: "S"), "sparse"), (UInt8(ascii: "V"), "volume"), (UInt8(ascii: "D"), "dump"), (UInt8(ascii: "Z"), "'Z'"),
    ])
    func unsupportedTypes(_ type: UInt8, _ word: String) {
        var archive = member(.file, "dev/thing") + Tar.endOfArchive
        archive[156] = type
        fixChecksum(&archive)
        let why = tarFailure(archive)
        #expect(why?.contains("unsupported member type") == true)
        #expect(why?.contains("dev/thing") == true)
        #expect(why?.contains(word) == true)
    }

    @Test("a pax size overrides the octal size field")
    func paxSize() throws {
        var archive = paxHeader(raw: "13 size=1000\n")
        archive += rawHeader(name: bytes("f"), type: UInt8(ascii: "0"), size: 0, gnu: false)
        archive += padded([UInt8](repeating: 9, count: 1000))
        archive += Tar.endOfArchive
        let entries = try readAll(archive)
        #expect(entries.map(\.size) == [1000])
        #expect(data(of: entries[0], in: archive) == [UInt8](repeating: 9, count: 1000))
    }

    @Test("pax overrides apply to the next member only, and an empty value cancels one")
    func paxScope() throws {
        var archive = paxHeader(["path": "first", "mtime": "12.75"])
        archive += rawHeader(name: bytes("a"), type: UInt8(ascii: "0"), size: 0, gnu: false)
        archive += rawHeader(name: bytes("b"), type: UInt8(ascii: "0"), size: 0, gnu: false)
        archive += paxHeader(["path": "other"]) + paxHeader(raw: "8 path=\n")
        archive += rawHeader(name: bytes("c"), type: UInt8(ascii: "0"), size: 0, gnu: false)
        archive += Tar.endOfArchive
        let entries = try readAll(archive)
        #expect(entries.map(\.path) == ["first", "b", "c"])
        #expect(entries[0].mtime == 12)
    }

    @Test("a pax global header is skipped")
    func globalHeader() throws {
        var archive = paxHeader(["path": "ignored"], type: UInt8(ascii: "g"))
        archive += member(.file, "real") + Tar.endOfArchive
        #expect(try readAll(archive).map(\.path) == ["real"])
    }

    @Test("malformed pax records are refused", arguments: [
        "abc", "5 a=b\n", "100 path=x\n", "0 =\n", "7 =abc\n", "9 path=x ", "12 pathxxxx\n", " 8 a=b\n",
        "99999999999999999999999 a=b\n", "6 a=b\n7 c=d\n",
    ])
    func badPaxSyntax(_ raw: String) {
        let archive = paxHeader(raw: raw) + member(.file, "f") + Tar.endOfArchive
        #expect(tarFailure(archive)?.contains("pax") == true)
    }

    @Test("pax values that make no sense are refused", arguments: [
        ("size", "12a4"), ("size", "-1"), ("size", "99999999999999999999999"), ("mtime", "x"),
        ("mtime", "99999999999999999999999"), ("GNU.sparse.major", "1"),
    ])
    func badPaxValues(_ key: String, _ value: String) {
        let archive = paxHeader([key: value]) + member(.file, "f") + Tar.endOfArchive
        #expect(tarFailure(archive) != nil)
    }

    @Test("an extended header without a member after it is refused")
    func danglingExtension() {
        #expect(tarFailure(paxHeader(["path": "x"]) + Tar.endOfArchive) != nil)
        #expect(tarFailure(paxHeader(["path": "x"])) != nil)
    }

    @Test("the end of the archive may be two zero blocks, one zero block, or a clean EOF", arguments: [0, 512, 1024, 10240])
    func endOfArchive(_ zeros: Int) throws {
        let archive = member(.file, "a", data: [1]) + [UInt8](repeating: 0, count: zeros)
        #expect(try readAll(archive).map(\.path) == ["a"])
    }

    @Test("anything after the end-of-archive marker is ignored")
    func afterEnd() throws {
        let archive = member(.file, "a") + Tar.endOfArchive + member(.file, "hidden") + [1, 2, 3]
        #expect(try readAll(archive).map(\.path) == ["a"])
    }

    @Test("a single zero block followed by a header is refused")
    func loneZeroBlock() {
        let archive = member(.file, "a") + [UInt8](repeating: 0, count: 512) + member(.file, "b") + Tar.endOfArchive
        #expect(tarFailure(archive) != nil)
    }

    @Test("a member name that is not valid UTF-8 is refused")
    func invalidUTF8Name() {
        var archive = member(.file, "abc") + Tar.endOfArchive
        archive[1] = 0xFF
        fixChecksum(&archive)
        #expect(tarFailure(archive)?.contains("UTF-8") == true)
    }

    @Test("a v7 regular-file header whose name ends in '/' is a directory")
    func v7Directory() throws {
        var h = rawHeader(name: bytes("olddir/"), type: 0, size: 0)
        for i in 257..<265 { h[i] = 0 }
        fixChecksum(&h)
        let entries = try readAll(h + Tar.endOfArchive)
        #expect(entries.map(\.kind) == [.directory])
        #expect(entries.map(\.path) == ["olddir"])
    }

    @Test("errors name the absolute offset of the bad header, counting the window's origin")
    func errorOffset() throws {
        var archive = member(.file, "a", data: [1]) + member(.file, "b") + Tar.endOfArchive
        archive[1024] ^= 1
        let outer = [UInt8](repeating: 0xAA, count: 4096) + archive
        let caught: FormatError? = outer.withByteReader { (r: ByteReader) -> FormatError? in
            do throws(FormatError) {
                var reader = TarReader(try r.slice(4096..<outer.count))
                while try reader.next() != nil {}
                return nil
            } catch {
                return error
            }
        }
        guard case let .tar(why, offset) = caught else { Issue.record("expected a tar error"); return }
        #expect(why.contains("checksum"))
        #expect(offset == 4096 + 1024)
    }

    @Test("random corruption of a valid archive never crashes the reader")
    func fuzzSmoke() {
        let base = member(.file, "bin/tool", data: [UInt8](repeating: 1, count: 700))
            + member(.directory, String(repeating: "deep/", count: 40))
            + member(.symlink, "ü-link", link: "target")
            + rawHeader(name: bytes("././@LongLink"), type: UInt8(ascii: "L"), size: 201) + padded([UInt8](repeating: 0x61, count: 200) + [0])
            + rawHeader(name: bytes("x"), type: UInt8(ascii: "0"), size: 3) + padded([1, 2, 3])
            + Tar.endOfArchive
        var rng = SplitMix64(seed: 42)
        for round in 0..<3_000 {
            var a = base
            for _ in 0..<(1 + Int(rng.next() % 8)) {
                let i = Int(rng.next() % UInt64(a.count))
                a[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            // Half the rounds also keep the checksums valid so that the field parsers get exercised.
            if round % 2 == 0 { for h in stride(from: 0, to: 3584, by: 512) where a[h + 148] != 0 { fixChecksum(&a, at: h) } }
            if round % 5 == 0 { a = Array(a.prefix(Int(rng.next() % UInt64(a.count)))) }
            _ = try? readAll(a)
        }
    }
}

// MARK: Interoperability with the system tar

private let systemTar = "/usr/bin/tar"

private func run(_ arguments: [String], in dir: URL) throws -> (status: Int32, output: String) {
    try runTool(systemTar, arguments, cwd: dir)
}

private func withTempDir<R>(_ body: (URL) throws -> R) throws -> R {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-tar-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

@Suite("Tar interoperability with /usr/bin/tar", .enabled(if: FileManager.default.isExecutableFile(atPath: systemTar),
                                                          "needs /usr/bin/tar"))
struct TarSystemTests {
    @Test("an archive written with Tar.header lists and extracts with the system tar")
    func systemReadsOurs() throws {
        try withTempDir { dir in
            let longPath = "top/" + (0..<30).map { "segment-\($0)" }.joined(separator: "/") + "/file.txt"
            var archive = member(.directory, "top", mode: 0o755)
            archive += member(.file, "top/hello.txt", mode: 0o644, data: bytes("hello\n"))
            archive += member(.file, "top/run.sh", mode: 0o755, data: bytes("#!/bin/sh\n"))
            archive += member(.symlink, "top/link", mode: 0o777, link: "hello.txt")
            archive += member(.hardlink, "top/hard", mode: 0o644, link: "top/hello.txt")
            archive += member(.file, longPath, data: bytes("long"))
            archive += member(.file, "top/naïve-日本.txt", data: bytes("utf8"))
            archive += Tar.endOfArchive
            let file = dir.appendingPathComponent("ours.tar")
            try Data(archive).write(to: file)

            let listing = try run(["-tvf", file.path], in: dir)
            #expect(listing.status == 0, "\(listing.output)")
            for name in ["top/hello.txt", "top/run.sh", "top/link -> hello.txt", "top/hard link to top/hello.txt",
                         longPath, "top/naïve-日本.txt"] {
                #expect(listing.output.contains(name), "missing \(name) in:\n\(listing.output)")
            }

            let out = dir.appendingPathComponent("out")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let extract = try run(["-xf", file.path, "-C", out.path], in: dir)
            #expect(extract.status == 0, "\(extract.output)")
            #expect(try String(contentsOf: out.appendingPathComponent("top/hello.txt"), encoding: .utf8) == "hello\n")
            #expect(try String(contentsOf: out.appendingPathComponent(longPath), encoding: .utf8) == "long")
            #expect(try String(contentsOf: out.appendingPathComponent("top/hard"), encoding: .utf8) == "hello\n")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out.appendingPathComponent("top/link").path) == "hello.txt")
            let attrs = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("top/run.sh").path)
            #expect((attrs[.posixPermissions] as? Int) == 0o755)
        }
    }

    @Test("archives made by the system tar are read, including long names", arguments: ["gnu", "pax", "ustar"])
    func oursReadsSystem(_ format: String) throws {
        try withTempDir { dir in
            let src = dir.appendingPathComponent("src")
            // ustar can only hold names that split at a '/', so that format gets a shorter long name.
            let longDir = format == "ustar" ? String(repeating: "d", count: 90) : String(repeating: "d", count: 200)
            let longFile = format == "ustar" ? String(repeating: "f", count: 30) : String(repeating: "f", count: 120) + ".txt"
            try FileManager.default.createDirectory(at: src.appendingPathComponent("tree/\(longDir)"), withIntermediateDirectories: true)
            try Data("long name\n".utf8).write(to: src.appendingPathComponent("tree/\(longDir)/\(longFile)"))
            try Data(repeating: 0x5A, count: 1500).write(to: src.appendingPathComponent("tree/blob"))
            try FileManager.default.createSymbolicLink(atPath: src.appendingPathComponent("tree/sym").path, withDestinationPath: "blob")
            let tarFile = dir.appendingPathComponent("sys.tar")
            let made = try run(["--format=\(format)", "-cf", tarFile.path, "-C", src.path, "tree"], in: dir)
            #expect(made.status == 0, "\(made.output)")

            let archive = [UInt8](try Data(contentsOf: tarFile))
            let entries = try readAll(archive)
            let byPath = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            let longPath = "tree/\(longDir)/\(longFile)"
            #expect(byPath["tree"]?.kind == .directory)
            #expect(byPath["tree/\(longDir)"]?.kind == .directory)
            let long = try #require(byPath[longPath])
            #expect(data(of: long, in: archive) == bytes("long name\n"))
            let blob = try #require(byPath["tree/blob"])
            #expect(blob.size == 1500)
            #expect(data(of: blob, in: archive) == [UInt8](repeating: 0x5A, count: 1500))
            #expect(byPath["tree/sym"]?.kind == .symlink)
            #expect(byPath["tree/sym"]?.linkTarget == "blob")
            #expect(entries.count == 5)
        }
    }
}
