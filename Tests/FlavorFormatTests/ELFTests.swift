import Foundation
import Testing
import FlavorTestSupport
@testable import FlavorFormat

// MARK: Helpers

private let libcPath = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6"]
    .first { FileManager.default.fileExists(atPath: $0) }

/// System files the reader is compared with readelf on: an executable with PT_INTERP and verneed,
/// libc (verdef, SONAME), and files with RUNPATH.
private let systemFiles: [String] = [
    "/usr/bin/python3.11", "/bin/ls", "/usr/bin/expr", "/usr/lib/x86_64-linux-gnu/libz.so.1",
    "/opt/swift/usr/lib/swift/linux/libswiftCore.so",
].filter { FileManager.default.fileExists(atPath: $0) } + (libcPath.map { [$0] } ?? [])

private func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

private func readelf(_ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/readelf")
    p.arguments = ["-W"] + args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// The text after "key: " up to the next whitespace (or `]` for bracketed values).
private func field(_ line: Substring, _ key: String) -> String? {
    guard let r = line.range(of: key + ": ") else { return nil }
    return String(line[r.upperBound...].prefix { !$0.isWhitespace })
}

private func bracketed(_ line: Substring) -> String? {
    guard let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]"), open < close else { return nil }
    return String(line[line.index(after: open)..<close])
}

/// What readelf says, in the reader's terms.
private struct ReadelfView: Equatable {
    var needed: [String] = [], runpath: [String] = [], rpath: [String] = []
    var soname: String? = nil, interpreter: String? = nil
    var versionsNeeded: [String] = [], versionsDefined: [String] = []

    init(_ path: String) throws {
        for line in try readelf(["-d", path]).split(separator: "\n") {
            guard let value = bracketed(line) else { continue }
            if line.contains("(NEEDED)") { needed.append(value) }
            if line.contains("(SONAME)") { soname = value }
            if line.contains("(RUNPATH)") { runpath += ELF.searchPath(value) }
            if line.contains("(RPATH)") { rpath += ELF.searchPath(value) }
        }
        for line in try readelf(["-l", path]).split(separator: "\n") where line.contains("Requesting program interpreter") {
            interpreter = bracketed(line).map { String($0.dropFirst("Requesting program interpreter: ".count)) }
        }
        var section = ""
        var file = ""
        for line in try readelf(["-V", path]).split(separator: "\n") {
            if line.hasPrefix("Version definition") { section = "def" } else if line.hasPrefix("Version needs") { section = "need" } else if line.hasPrefix("Version symbols") { section = "" }
            if section == "def", let name = field(line, "Name"), field(line, "Flags") != "BASE" { versionsDefined.append(name) }
            if section == "need" {
                if let f = field(line, "File") { file = f } else if let name = field(line, "Name") { versionsNeeded.append(file + ":" + name) }
            }
        }
    }

    init(_ e: ELF) {
        needed = e.needed; runpath = e.runpath; rpath = e.rpath; soname = e.soname; interpreter = e.interpreter
        versionsNeeded = e.versionsNeeded.flatMap { v in v.names.map { v.file + ":" + $0 } }
        versionsDefined = e.versionsDefined
    }
}

/// Every field, for comparing two parses.
private func summary(_ e: ELF) -> String {
    "\(e.type) \(e.machine) \(e.needed) \(e.runpath) \(e.rpath) \(e.soname ?? "-") \(e.interpreter ?? "-") "
        + "\(e.versionsNeeded.map { "\($0.file)=\($0.names)" }) \(e.versionsDefined)"
}

private func parse(_ b: [UInt8]) -> Result<ELF, FormatError> {
    do throws(FormatError) { return .success(try ELF(bytes: b)) } catch { return .failure(error) }
}

private func elfError(_ b: [UInt8]) -> String? {
    guard case let .failure(e) = parse(b) else { return nil }
    return e.description
}

/// (offset, size) of the first program header of `type`.
private func segment(_ b: [UInt8], _ type: UInt32) -> (Int, Int)? {
    let phoff = Int(b.get64(32)), phnum = Int(b.get16(56))
    for i in 0..<phnum where b.get32(phoff + 56 * i) == type {
        let p = phoff + 56 * i
        return (Int(b.get64(p + 8)), Int(b.get64(p + 32)))
    }
    return nil
}

// MARK: Real files

@Suite("ELF reader on system files, against readelf")
struct ELFSystemTests {
    @Test("needed, runpath, rpath, soname, interpreter and symbol versions match readelf", arguments: systemFiles)
    func matchesReadelf(path: String) throws {
        let e = try ELF(bytes: try readBytes(path))
        let expected = try ReadelfView(path)
        #expect(ReadelfView(e) == expected)
        #expect(e.machine == 62)
    }

    @Test("the files compared cover every field at least once")
    func coverage() throws {
        let all = try systemFiles.map { try ELF(bytes: try readBytes($0)) }
        #expect(all.contains { !$0.needed.isEmpty })
        #expect(all.contains { !$0.runpath.isEmpty })
        #expect(all.contains { $0.soname != nil })
        #expect(all.contains { $0.interpreter != nil })
        #expect(all.contains { !$0.versionsNeeded.isEmpty })
        #expect(all.contains { !$0.versionsDefined.isEmpty })
    }

    @Test("libc defines GLIBC_2.34 and its newest version is at least 2.34, the same as readelf's newest")
    func libc() throws {
        let path = try #require(libcPath, "no libc.so.6 in the usual places")
        let e = try ELF(bytes: try readBytes(path))
        #expect(e.soname == "libc.so.6")
        #expect(e.versionsDefined.contains("GLIBC_2.34"))
        #expect(!e.versionsDefined.contains("libc.so.6"), "the BASE entry is the file, not a version")
        let newest = try #require(e.newestGlibcDefined)
        #expect(newest >= GlibcVersion(major: 2, minor: 34))
        // readelf's list, ordered numerically by hand.
        let names = try ReadelfView(path).versionsDefined.filter { $0.hasPrefix("GLIBC_2.") }
        let numeric = names.map { $0.dropFirst(6).split(separator: ".").map { Int($0)! } }
        let top = numeric.max { $0.lexicographicallyPrecedes($1) }!
        #expect([newest.major, newest.minor] + (newest.patch == 0 ? [] : [newest.patch]) == top)
    }

    @Test("an executable needs GLIBC_ versions, none newer than the libc here defines")
    func needsGlibc() throws {
        let path = try #require(systemFiles.first)
        let e = try ELF(bytes: try readBytes(path))
        let needed = try #require(e.newestGlibcNeeded)
        let libc = try ELF(bytes: try readBytes(try #require(libcPath)))
        #expect(needed <= (try #require(libc.newestGlibcDefined)))
        #expect(needed >= GlibcVersion(major: 2, minor: 2, patch: 5))
    }

    @Test("without program headers the section headers give the same answer")
    func sectionFallback() throws {
        var b = try readBytes("/bin/ls")
        let full = try ELF(bytes: b)
        b.set16(56, 0)   // e_phnum
        let bySections = try ELF(bytes: b)
        #expect(!bySections.needed.isEmpty && !bySections.versionsNeeded.isEmpty)
        #expect(bySections.interpreter == nil, "PT_INTERP is a program header")
        var expected = full
        expected.interpreter = nil
        #expect(summary(bySections) == summary(expected))
    }

    @Test("isELF looks at the magic only")
    func isELF() throws {
        let ls = try readBytes("/bin/ls")
        #expect(ELF.isELF(prefix: ls.prefix(4)))
        #expect(ELF.isELF(prefix: ls))
        #expect(!ELF.isELF(prefix: Array("#!/bin/sh\n".utf8)))
        #expect(!ELF.isELF(prefix: ls.prefix(3)), "three bytes are not enough to tell")
        #expect(!ELF.isELF(prefix: [UInt8]()))
    }
}

// MARK: Crafted files

@Suite("ELF reader on crafted files")
struct ELFCraftedTests {
    @Test("every field reads back as written, search paths split on ':' keeping empty entries")
    func roundTrip() throws {
        var f = ELFFixture()
        f.needed = ["libpython3.11.so.1.0", "libc.so.6"]
        f.soname = "libdemo.so.1"
        f.rpath = "/opt/a::$ORIGIN/../lib"
        f.runpath = "$ORIGIN"
        f.interpreter = "/lib64/ld-linux-x86-64.so.2"
        f.verneed = [("libc.so.6", ["GLIBC_2.2.5", "GLIBC_2.34"]), ("libm.so.6", ["GLIBC_2.29"])]
        f.verdef = ["DEMO_1.0", "DEMO_2.0"]
        let e = try ELF(bytes: f.bytes())
        #expect(e.needed == ["libpython3.11.so.1.0", "libc.so.6"])
        #expect(e.soname == "libdemo.so.1")
        #expect(e.rpath == ["/opt/a", "", "$ORIGIN/../lib"])
        #expect(e.runpath == ["$ORIGIN"])
        #expect(e.interpreter == "/lib64/ld-linux-x86-64.so.2")
        #expect(e.versionsNeeded.map { $0.file } == ["libc.so.6", "libm.so.6"])
        #expect(e.versionsNeeded.map { $0.names } == [["GLIBC_2.2.5", "GLIBC_2.34"], ["GLIBC_2.29"]])
        #expect(e.versionsDefined == ["DEMO_1.0", "DEMO_2.0"])
        #expect(e.newestGlibcNeeded == GlibcVersion(major: 2, minor: 34))
        #expect(e.newestGlibcDefined == nil)
        #expect(e.type == 3 && e.machine == 62)
    }

    @Test("readelf reads the crafted file the same way (the fixture is a real ELF)")
    func fixtureIsReal() throws {
        var f = ELFFixture()
        f.needed = ["liba.so"]; f.soname = "libx.so"; f.runpath = "a:b"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("elf-fixture-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(f.bytes()).write(to: URL(fileURLWithPath: path))
        let d = try readelf(["-d", path])
        #expect(d.contains("Shared library: [liba.so]"))
        #expect(d.contains("Library soname: [libx.so]"))
        #expect(d.contains("Library runpath: [a:b]"))
    }

    @Test("a static file (no PT_DYNAMIC) has nothing to load")
    func noDynamic() throws {
        var b = ELFFixture(needed: ["x.so"]).bytes()
        b.set32(64 + 56, 0)   // PT_DYNAMIC -> PT_NULL
        let e = try ELF(bytes: b)
        #expect(e.needed.isEmpty && e.versionsNeeded.isEmpty && e.soname == nil)
    }

    @Test("not ELF64 little-endian, or too short: refused with the reason", arguments: [
        ("magic", 0, UInt8(0x7E), "no ELF magic"),
        ("32-bit", 4, UInt8(1), "not ELF64"),
        ("big-endian", 5, UInt8(2), "not little-endian"),
    ])
    func refusedHeader(_ name: String, _ at: Int, _ value: UInt8, _ reason: String) {
        var b = ELFFixture(needed: ["x.so"]).bytes()
        b[at] = value
        let why = elfError(b)
        #expect(why?.contains(reason) == true, "\(name): \(why ?? "accepted")")
    }

    @Test("shorter than an ELF header: truncated")
    func short() {
        #expect(elfError(Array(ELFFixture().bytes().prefix(63)))?.contains("truncated") == true)
        #expect(elfError([]) != nil)
    }

    @Test("hostile header and dynamic fields throw, naming what is wrong")
    func hostileFields() {
        let f = ELFFixture(needed: ["x.so"], soname: "s", verneed: [("libc.so.6", ["GLIBC_2.34"])], verdef: ["V_1"])
        let (good, layout) = f.build()
        func patched(_ edit: (inout [UInt8]) -> Void) -> String? { var b = good; edit(&b); return elfError(b) }
        #expect(elfError(good) == nil)
        #expect(patched { $0.set64(32, .max) }?.contains("program headers lies outside") == true)
        #expect(patched { $0.set16(56, 0xFFFF) }?.contains("program headers lies outside") == true)
        #expect(patched { $0.set16(54, 32) }?.contains("e_phentsize") == true)
        #expect(patched { $0.set64(64 + 8, .max - 4) }?.contains("PT_LOAD lies outside") == true)
        #expect(patched { $0.set64(64 + 56 + 32, UInt64($0.count)) }?.contains("PT_DYNAMIC lies outside") == true)

        var hostile = [(String, ELFFixture)]()
        var g = f; g.overrides = [(10, 1 << 40)]; hostile.append(("DT_STRSZ", g))
        g = f; g.overrides = [(5, 0x10)]; hostile.append(("DT_STRTAB address", g))
        g = f; g.overrides = [(1, 1 << 20)]; hostile.append(("DT_NEEDED offset", g))
        g = f; g.overrides = [(10, UInt64(layout.strsz - 1))]; hostile.append(("NUL-terminated", g))   // cuts the last string's NUL
        g = f; g.overrides = [(0x6fff_fffe, f.base + UInt64(good.count) - 4)]; hostile.append(("Verneed entry", g))
        for (what, h) in hostile {
            let why = elfError(h.bytes())
            #expect(why?.contains(what) == true, "\(what): \(why ?? "accepted")")
        }

        // vn_next and vd_aux pointing past the segment.
        #expect(patched { $0.set32(layout.verneed + 12, 1 << 30) } == nil, "the last entry's vn_next is not followed")
        #expect(patched { $0.set32(layout.verneed + 8, 1 << 30) }?.contains("vn_aux") == true)
        #expect(patched { $0.set32(layout.verdef + 16, 1 << 30) }?.contains("vd_next") == true)
        #expect(patched { $0.set32(layout.verdef + 12, 1 << 30) }?.contains("vd_aux") == true)
    }

    @Test("a version table of 70,000 linked entries is cut off, not walked forever")
    func entryBudget() {
        var raw = [UInt8]()
        for _ in 0..<70_000 { raw.putU16(1); raw.putU16(0); raw.putU32(0); raw.putU32(0); raw.putU32(16) }
        let why = elfError(ELFFixture(rawVerneed: raw).bytes())
        #expect(why?.contains("more than 65536 version entries") == true, "\(why ?? "accepted")")
        // The same chain, ended after 1,000 entries, reads.
        raw.set32(999 * 16 + 12, 0)
        let e = try? ELF(bytes: ELFFixture(rawVerneed: raw).bytes())
        #expect(e?.versionsNeeded.count == 1000)
    }
}

// MARK: Hostile bytes

@Suite("ELF reader on damaged files")
struct ELFDamageTests {
    @Test("every truncation throws or gives the full answer; cutting the dynamic segment throws")
    func truncations() throws {
        let b = try readBytes("/bin/ls")
        let full = summary(try ELF(bytes: b))
        let (dynOff, dynSize) = try #require(segment(b, 2))
        var lengths = Array(0..<2048)
        var rng = SplitMix64(seed: 0xE1F)
        for _ in 0..<1500 { lengths.append(rng.below(b.count)) }
        lengths += [dynOff, dynOff + dynSize - 1, dynOff + dynSize, b.count - 1]
        var threw = 0
        for n in lengths {
            switch parse(Array(b.prefix(n))) {
            case .failure: threw += 1
            case let .success(e):
                #expect(n >= dynOff + dynSize, "a prefix of \(n) bytes cuts PT_DYNAMIC and parsed")
                #expect(summary(e) == full, "a prefix of \(n) bytes parsed differently")
            }
        }
        #expect(threw >= 2048, "every prefix inside the headers throws")
    }

    @Test("seeded byte flips in the headers, tables and anywhere never trap")
    func flips() throws {
        var b = try readBytes("/bin/ls")
        let (dynOff, dynSize) = try #require(segment(b, 2))
        var rng = SplitMix64(seed: 0xF11B)
        var threw = 0, parsed = 0
        for _ in 0..<4000 {
            var changed = [(Int, UInt8)]()
            for _ in 0..<(1 + rng.below(4)) {
                let at: Int
                switch rng.below(4) {
                case 0: at = rng.below(64 + 56 * 14)                  // ELF header and program headers
                case 1: at = dynOff + rng.below(dynSize)              // .dynamic
                case 2: at = rng.below(min(b.count, 0x2000))          // .dynstr, .gnu.version_r live here
                default: at = rng.below(b.count)
                }
                changed.append((at, b[at]))
                b[at] = rng.below(3) == 0 ? [0, 0xFF, 0x7F][rng.below(3)] : UInt8(truncatingIfNeeded: rng.next())
            }
            switch parse(b) {
            case .failure: threw += 1
            case .success: parsed += 1
            }
            for (at, old) in changed.reversed() { b[at] = old }
        }
        #expect(threw > 100 && parsed > 100, "threw \(threw), parsed \(parsed)")
    }
}

// MARK: glibc versions

@Suite("glibc versions")
struct GlibcVersionTests {
    @Test("symbol version names parse to numbers; others are not glibc versions", arguments: [
        ("GLIBC_2.34", "2.34"), ("GLIBC_2.2.5", "2.2.5"), ("GLIBC_2.3", "2.3"), ("GLIBC_PRIVATE", nil),
        ("GLIBCXX_3.4.29", nil), ("GLIBC_2", nil), ("GLIBC_2.", nil), ("GLIBC_.34", nil), ("GLIBC_2.34a", nil),
        ("GLIBC_2.1.2.3", nil), ("GLIBC_9999999.1", nil), ("libc.so.6", nil), ("GLIBC_2.34.0", "2.34"),
    ] as [(String, String?)])
    func parses(_ name: String, _ expected: String?) {
        #expect(GlibcVersion(versionName: name)?.description == expected)
    }

    @Test("plain versions parse; min_glibc values such as \"2.34\"")
    func plain() {
        #expect(GlibcVersion("2.34") == GlibcVersion(major: 2, minor: 34))
        #expect(GlibcVersion("2.2.5") == GlibcVersion(major: 2, minor: 2, patch: 5))
        #expect(GlibcVersion("GLIBC_2.34") == nil)
        #expect(GlibcVersion("") == nil && GlibcVersion("2") == nil && GlibcVersion(" 2.34") == nil)
    }

    @Test("ordering is numeric: 2.3 < 2.3.4 < 2.4 < 2.9 < 2.10 < 2.30")
    func ordering() {
        let v = ["2.3", "2.3.4", "2.4", "2.9", "2.10", "2.30"].map { GlibcVersion($0)! }
        #expect(v == v.sorted())
        #expect(v.shuffled().sorted() == v)
        #expect(GlibcVersion("3.0")! > GlibcVersion("2.99")!)
    }

    @Test("newest picks the numerically largest GLIBC_ name and ignores the rest")
    func newest() {
        #expect(GlibcVersion.newest(in: ["GLIBC_2.4", "GLIBC_2.36", "GLIBC_PRIVATE", "GLIBC_2.9", "GLIBCXX_3.4.30"]) == GlibcVersion("2.36"))
        #expect(GlibcVersion.newest(in: ["GLIBC_2.3", "GLIBC_2.2.5"]) == GlibcVersion("2.3"))
        #expect(GlibcVersion.newest(in: ["GLIBC_PRIVATE", "libc.so.6"]) == nil)
        #expect(GlibcVersion.newest(in: []) == nil)
    }
}
