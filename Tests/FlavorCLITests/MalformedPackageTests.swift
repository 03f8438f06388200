import Foundation
import Testing

/// Hostile packages generated from a good one (no committed binaries), each given to the four
/// readers: flavor verify, flavor inspect, flavor extract-all and the launcher. Every one must end
/// with a clear error and a documented exit code, never a signal; run nothing; write nothing
/// outside its staging area; and stay under 256 MiB of memory (measured with GNU time).
@Suite("malformed packages: every reader refuses cleanly, in bounded memory")
struct MalformedPackageTests {
    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        // Truncation at each region boundary (and inside regions).
        case cutInLauncher, cutAtMetadata, cutInMetadata, cutAtSlotTable, cutInSlotTable, cutAtSlots, cutInLastSlot, cutInTrailer
        // Index fields, with the index checksum re-sealed so the damage reaches the code behind it.
        case metadataPastEOF, metadataSizeOverflows, slotTablePastEOF, slotTableSizeOverflows, hugeSlotCount, wrongPackageSize
        // A descriptor whose offset + size overflows; original_size lying up or down (it is not signed).
        case descriptorOverflows, originalSizeLarger, originalSizeSmaller
        // Metadata that inflates to a gigabyte (checksum and index made to match).
        case metadataBomb
        var testDescription: String { rawValue }
    }

    static let good: Result<(path: String, bytes: [UInt8]), Error> = Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-malformed-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = dir + "/hello.psp"
        let r = try run(Tools.flavor, ["pack", "--manifest", Tools.repoRoot + "/examples/hello/manifest.json", "--output", out,
                                       "--launcher-bin", Tools.launcher, "--key-seed", "malformed", "-q"])
        try #require(r.status == 0, "\(r.output)")
        return (out, try readBytes(out))
    }

    /// 1 GiB of zeros as one gzip member (~1 MB), made by the system's gzip.
    static let bomb: Result<[UInt8], Error> = Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-bomb-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try run("/bin/sh", ["-c", "head -c 1073741824 /dev/zero | gzip -1 > \(dir)/bomb.gz"])
        try #require(r.status == 0, "\(r.output)")
        return try readBytes(dir + "/bomb.gz")
    }

    static func damaged(_ d: Damage) throws -> [UInt8] {
        var b = try good.get().bytes
        let idx = b.count - 8196
        let metaOff = Int(le64(b, idx + 24)), metaSize = Int(le64(b, idx + 32))
        let table = Int(le64(b, idx + 40)), count = Int(le32(b, idx + 56))
        let lastOff = Int(le64(b, table + 64 * (count - 1) + 16)), lastSize = Int(le64(b, table + 64 * (count - 1) + 24))
        func put64(_ v: UInt64, _ o: Int) { for k in 0..<8 { b[o + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) } }
        func put32(_ v: UInt32, _ o: Int) { for k in 0..<4 { b[o + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) } }
        switch d {
        case .cutInLauncher: return Array(b[..<(metaOff / 2)])
        case .cutAtMetadata: return Array(b[..<metaOff])
        case .cutInMetadata: return Array(b[..<(metaOff + metaSize / 2)])
        case .cutAtSlotTable: return Array(b[..<table])
        case .cutInSlotTable: return Array(b[..<(table + 40)])
        case .cutAtSlots: return Array(b[..<(table + 64 * count)])
        case .cutInLastSlot: return Array(b[..<(lastOff + lastSize / 2)])
        case .cutInTrailer: return Array(b[..<(b.count - 100)])
        case .metadataPastEOF: put64(UInt64(b.count + 4096), idx + 24)
        case .metadataSizeOverflows: put64(UInt64.max - 16, idx + 32)
        case .slotTablePastEOF: put64(UInt64(b.count + 4096), idx + 40)
        case .slotTableSizeOverflows: put64(UInt64.max - 63, idx + 48)
        case .hugeSlotCount: put32(UInt32.max, idx + 56); put64(64 * UInt64(UInt32.max), idx + 48)
        case .wrongPackageSize: put64(UInt64(b.count) * 2, idx + 8)
        case .originalSizeLarger, .originalSizeSmaller:
            // The tree slot (a gzip tar our packer wrote, so original_size is its decoded size).
            let tree = table + 64
            let o = le64(b, tree + 32)
            put64(d == .originalSizeLarger ? o + 512 : o - 512, tree + 32)
            return b
        case .descriptorOverflows:
            put64(UInt64.max - 8, table + 16)
            put64(4096, table + 24)
            return b
        case .metadataBomb:
            // The bomb goes just before the trailer; the index points at it, with its SHA-256.
            let gz = try bomb.get()
            let trailer = Array(b[(b.count - 8200)...])
            b = Array(b[..<(b.count - 8200)]) + gz + trailer
            let i = b.count - 8196
            let start = b.count - 8200 - gz.count
            for k in 0..<8 { b[i + 24 + k] = UInt8(truncatingIfNeeded: UInt64(start) >> (8 * UInt64(k))) }
            for k in 0..<8 { b[i + 32 + k] = UInt8(truncatingIfNeeded: UInt64(gz.count) >> (8 * UInt64(k))) }
            for k in 0..<8 { b[i + 8 + k] = UInt8(truncatingIfNeeded: UInt64(b.count) >> (8 * UInt64(k))) }
            let digest = sha256(gz)
            for k in 0..<32 { b[i + 96 + k] = digest[k] }
        }
        return resealedIndex(b)
    }

    /// Runs `argv` under GNU time (scripts/install-deps installs it); returns the result and the peak RSS in KiB.
    static func measured(_ argv: [String], env: [String: String]) throws -> (RunResult, Int?) {
        let time = "/usr/bin/time"
        try #require(FileManager.default.isExecutableFile(atPath: time), "GNU time is missing (scripts/install-deps installs it)")
        let rssFile = FileManager.default.temporaryDirectory.appendingPathComponent("rss-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: rssFile) }
        let r = try run(time, ["-f", "%M", "-o", rssFile] + argv, env: env)
        // For a command that fails, GNU time writes "Command exited with non-zero status N" first.
        let text = (try? String(contentsOfFile: rssFile, encoding: .utf8)) ?? ""
        let rss = text.split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return (r, rss)
    }

    @Test("verify, inspect, extract-all and the launcher", arguments: Damage.allCases)
    func readers(_ d: Damage) throws {
        let dir = TempDir("flavor-malformed")
        let pkg = dir.sub("bad.psp")
        try writeBytes(pkg, try Self.damaged(d))
        chmod(pkg, 0o755)
        let env = ["FLAVOR_CACHE_DIR": dir.sub("cache")]
        let runs: [(String, [String], ClosedRange<Int32>)] = [
            ("verify", [Tools.flavor, "verify", pkg], 1...2),
            ("inspect", [Tools.flavor, "inspect", pkg], 1...2),
            ("extract-all", [Tools.flavor, "extract-all", pkg, dir.sub("out")], 1...2),
            ("launcher", [pkg, "x"], 102...107),
        ].filter { $0.0 != "launcher" || d != .cutInLauncher }   // a cut launcher is not ours to run: the kernel refuses it
        for (what, argv, codes) in runs {
            let (r, rss) = try Self.measured(argv, env: env)
            #expect(codes.contains(r.status), "\(d) \(what): exit \(r.status) (documented: \(codes)): \(r.output)")
            #expect(r.stderr.hasPrefix("flavor"), "\(d) \(what): no error line: \(r.output)")
            #expect(!r.stdout.contains("hello from"), "\(d) \(what) ran the payload")
            #expect(rss.map { $0 < 256 << 10 } == true, "\(d) \(what): peak RSS \(rss.map { "\($0) KiB" } ?? "not measured")")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("out")))
        let outside = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(outside.allSatisfy { ["bad.psp", "cache"].contains($0) }, "\(d): left \(outside)")
        let workenvs = (try? FileManager.default.contentsOfDirectory(atPath: dir.sub("cache/workenv"))) ?? []
        #expect(workenvs.allSatisfy { $0.hasPrefix(".") }, "\(d): a workenv was published: \(workenvs)")
    }
}

/// Hostile tar slots: members that would escape, alias or special-case the tree. Packed by our
/// own CLI (a file slot is stored as given), then extracted by extract-all and by the launcher.
@Suite("hostile tar members: refused by extract-all and the launcher, nothing outside the root")
struct HostileTarTests {
    enum Member: String, CaseIterable, CustomTestStringConvertible {
        case writeThroughSymlink, writeThroughEscapingSymlink, hardlinkOutOfTree, hardlinkAbsolute, characterDevice, blockDevice, fifo,
             duplicateName, duplicateSymlinkThenFile, overlongName, overlongComponent, nonUTF8Name
        var testDescription: String { rawValue }
        /// Python tarfile members (name, kind, payload or link target).
        var python: String {
            switch self {
            case .writeThroughSymlink: return "[d('sub'), l('link', 'sub'), f('link/x.txt')]"
            case .writeThroughEscapingSymlink: return "[l('esc', '../..'), f('esc/x.txt')]"
            case .hardlinkOutOfTree: return "[l('h', '../../../../etc/passwd', tarfile.LNKTYPE)]"
            case .hardlinkAbsolute: return "[l('h', '/etc/passwd', tarfile.LNKTYPE)]"
            case .characterDevice: return "[dev('null', tarfile.CHRTYPE)]"
            case .blockDevice: return "[dev('disk', tarfile.BLKTYPE)]"
            case .fifo: return "[dev('pipe', tarfile.FIFOTYPE)]"
            case .duplicateName: return "[f('a.txt', b'first'), f('a.txt', b'second')]"
            case .duplicateSymlinkThenFile: return "[f('t.txt'), l('a.txt', 't.txt'), f('a.txt', b'through')]"
            case .overlongName: return "[f('/'.join(['d' * 200] * 30))]"
            case .overlongComponent: return "[f('n' * 300)]"
            case .nonUTF8Name: return "[f(b'caf\\xe9.txt'.decode('utf-8', 'surrogateescape'))]"
            }
        }
    }

    static func tar(_ m: Member, _ path: String) throws {
        let script = """
            import io, sys, tarfile
            def f(name, payload=b'x'):
                i = tarfile.TarInfo(name); i.size = len(payload); i.mode = 0o644; return (i, payload)
            def d(name):
                i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o755; return (i, None)
            def l(name, target, kind=tarfile.SYMTYPE):
                i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; return (i, None)
            def dev(name, kind):
                i = tarfile.TarInfo(name); i.type = kind; i.devmajor = 1; i.devminor = 3; return (i, None)
            with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT, encoding='utf-8', errors='surrogateescape') as t:
                for info, payload in \(m.python):
                    t.addfile(info, io.BytesIO(payload) if payload is not None else None)
            """
        let r = try run("/usr/bin/env", ["python3", "-c", script, path])
        try #require(r.status == 0, "\(r.output)")
    }

    @Test("refused with the member named, nothing written outside the root, nothing published", arguments: Member.allCases, ["tar", "tgz"])
    func refused(_ m: Member, _ ops: String) throws {
        let d = TempDir("flavor-hostile")
        let tarPath = d.sub("evil.tar")
        try Self.tar(m, tarPath)
        if ops == "tgz" { try #require(try run("/bin/gzip", ["-k", tarPath]).status == 0) }
        try d.write("m.json", """
            {"package": {"name": "evil", "version": "1"}, "execution": {"command": "/bin/sh -c 'echo ran > \(d.sub("ran"))'"},
             "slots": [{"id": "evil", "source": "\(ops == "tar" ? tarPath : tarPath + ".gz")", "target": "{workenv}/app", "operations": "\(ops)"}]}
            """)
        let pkg = try flavorPack(d.sub("m.json"), d.sub("evil.psp"))
        let before = try FileManager.default.contentsOfDirectory(atPath: d.path).sorted()
        let x = try run(Tools.flavor, ["extract-all", pkg, d.sub("out")])
        #expect(x.status == 1 && x.stderr.contains("slot 0"), "\(m) \(ops): \(x.output)")
        #expect(!FileManager.default.fileExists(atPath: d.sub("out")))
        let l = try run(pkg, [], env: ["FLAVOR_CACHE_DIR": d.sub("cache")])
        #expect(l.status == 103, "\(m) \(ops): \(l.output)")
        #expect(!FileManager.default.fileExists(atPath: d.sub("ran")), "\(m) \(ops): the command ran")
        #expect(!FileManager.default.fileExists(atPath: d.sub("cache/workenv/evil")), "\(m) \(ops): a workenv was published")
        let after = try FileManager.default.contentsOfDirectory(atPath: d.path).sorted()
        #expect(after == (before + ["cache"]).sorted(), "\(m) \(ops): \(after)")
        #expect(try run("/usr/bin/test", ["-e", "/etc/passwd.flavor-test"]).status != 0)
    }
}
