import Foundation
import Testing
import FlavorFormat
import FlavorSys
@testable import FlavorEngine

// MARK: Helpers

/// A fresh directory under the system temp dir; `root` is where the writer extracts, and
/// everything else in `base` counts as "outside".
private struct Sandbox {
    let base: String
    var root: String { base + "/root" }

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("treewriter-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    }

    /// Removes the sandbox, first giving every directory owner rwx so read-only members go too.
    func remove() {
        if let e = FileManager.default.enumerator(atPath: base) {
            for case let rel as String in e {
                let p = base + "/" + rel
                if let attrs = try? FileManager.default.attributesOfItem(atPath: p),
                   attrs[.type] as? FileAttributeType == .typeDirectory {
                    chmod(p, 0o755)
                }
            }
        }
        try? FileManager.default.removeItem(atPath: base)
    }

    /// Names directly in `base` (the root itself included when it exists).
    func outsideEntries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted()
    }

    func mode(_ rel: String) -> UInt32? {
        var st = stat()
        guard lstat(root + "/" + rel, &st) == 0 else { return nil }
        return UInt32(st.st_mode) & 0o7777
    }

    func isSymlink(_ rel: String) -> Bool {
        var st = stat()
        return lstat(root + "/" + rel, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }

    func contents(_ rel: String) -> [UInt8]? {
        FileManager.default.contents(atPath: root + "/" + rel).map { [UInt8]($0) }
    }
}

private func write(_ w: TreeWriter, _ rel: String, _ data: [UInt8], mode: UInt32 = 0o644) throws(EngineError) {
    // With io_uring the write completes at flush(), while `data` is still alive.
    try data.withByteReader { (r) throws(EngineError) in try w.writeFile(rel, r, mode: mode, what: "test"); try w.flush() }
}

private func extract(_ w: TreeWriter, _ archive: [UInt8]) throws(EngineError) {
    try archive.withByteReader { (r) throws(EngineError) in try w.extractTar(r, what: "test") }
}

/// One member framed as the packer frames it: header, data, padding.
private func member(_ kind: TarEntryKind, _ path: String, mode: UInt32 = 0o644, data: [UInt8] = [],
                    link: String = "") -> [UInt8] {
    Tar.header(kind: kind, path: path, mode: mode, size: data.count, linkTarget: link, mtime: 1_700_000_000)
        + data + [UInt8](repeating: 0, count: Tar.padding(after: data.count))
}

private func archive(_ members: [[UInt8]]) -> [UInt8] {
    members.reduce([], +) + Tar.endOfArchive
}

// MARK: Path rules

@Suite("TreeWriter path rules")
struct TreeWriterPathTests {
    @Test("safeRelative normalises harmless paths and refuses escaping or empty ones", arguments: [
        ("a", String?("a")), ("a/b", "a/b"), ("a/./b", "a/b"), ("./a", "a"), ("a//b/", "a/b"), ("bin/tool", "bin/tool"),
        ("a..b", "a..b"), ("..a", "..a"),
        ("/etc/passwd", nil), ("../x", nil), ("a/../../x", nil), ("a/../b", nil), ("..", nil),
        ("", nil), (".", nil), ("./", nil), ("//", nil), ("a\u{0}b", nil),
    ] as [(String, String?)])
    func safeRelative(path: String, expected: String?) {
        #expect(TreeWriter.safeRelative(path) == expected)
    }

    @Test("the one-pass check for already-normal paths agrees with the full normalisation on every short path")
    func plainRelativeFastPath() {
        let parts = ["a", ".", "..", "", ".x", "x.", "...", "\u{0}", "é"]
        var checked = 0
        for n in 1...4 {
            var combos = [[String]]([[]])
            for _ in 0..<n { combos = combos.flatMap { c in parts.map { c + [$0] } } }
            for c in combos {
                for lead in ["", "/"] {
                    let p = lead + c.joined(separator: "/")
                    if TreeWriter.isPlainRelative(p) { #expect(TreeWriter.normalizedRelative(p) == p, "\(p)") }
                    #expect(TreeWriter.safeRelative(p) == TreeWriter.normalizedRelative(p), "\(p)")
                    checked += 1
                }
            }
        }
        #expect(checked > 10_000)
    }

    @Test("linkStaysInside allows targets that stay under the root and refuses the rest", arguments: [
        ("lnk", "sub", true), ("lnk", "./sub/file", true), ("a/b/lnk", "../c", true), ("a/b/lnk", "../../c", true),
        ("a/lnk", "..", true), ("lnk", ".", true),
        ("lnk", "..", false), ("lnk", "../..", false), ("a/lnk", "../..", false), ("a/b/lnk", "../../../c", false),
        ("lnk", "/etc", false), ("lnk", "/", false), ("lnk", "", false), ("lnk", "sub/../../x", false),
    ] as [(String, String, Bool)])
    func linkStaysInside(link: String, target: String, inside: Bool) {
        #expect(TreeWriter.linkStaysInside(linkPath: link, target: target) == inside)
    }
}

// MARK: Direct writes

@Suite("TreeWriter writes")
struct TreeWriterWriteTests {
    @Test("writeFile creates parent directories and the file with its bytes and mode")
    func writesFile() throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try write(w, "a/b/c.txt", Array("hello".utf8), mode: 0o640)
        #expect(s.contents("a/b/c.txt") == Array("hello".utf8))
        #expect(s.mode("a/b/c.txt") == 0o640)
        #expect(w.filesWritten == 1)
        #expect(w.bytesWritten == 5)
    }

    @Test("writeFile refuses unsafe paths with an extraction error and writes nothing",
          arguments: ["/etc/passwd", "../x", "a/../../x", "", "."])
    func refusesUnsafePath(path: String) throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        let err = #expect(throws: EngineError.self) { try write(w, path, [1, 2, 3]) }
        #expect(err?.kind == .extraction)
        #expect(s.outsideEntries() == ["root"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.root).isEmpty)
    }

    @Test("file modes keep permission and sticky bits but drop setuid and setgid", arguments: [
        (UInt32(0o755), UInt32(0o755)), (0o644, 0o644), (0o4755, 0o755), (0o2755, 0o755), (0o6777, 0o777), (0o1644, 0o1644),
    ] as [(UInt32, UInt32)])
    func modeMasking(mode: UInt32, expected: UInt32) throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try write(w, "f", [0x41], mode: mode)
        #expect(s.mode("f") == expected)
    }

    @Test("a symlink pointing outside the root is refused", arguments: [
        ("a", "/etc"), ("lib", "../.."), ("lib", ".."), ("x/y", "../../z"),
    ])
    func refusesEscapingSymlink(link: String, target: String) throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try write(w, "keep", [1])
        let err = #expect(throws: EngineError.self) { try w.makeSymlink(link, target: target, what: "test") }
        #expect(err?.kind == .extraction)
        #expect(!s.isSymlink(link))
    }

    @Test("a symlink inside the root is created and writes through it are refused")
    func noWritesThroughOwnSymlink() throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try write(w, "sub/real", [1])
        try w.makeSymlink("lnk", target: "sub", what: "test")
        #expect(s.isSymlink("lnk"))
        let err = #expect(throws: EngineError.self) { try write(w, "lnk/f", [2]) }
        #expect(err?.kind == .extraction)
        #expect(s.contents("sub/f") == nil, "nothing may land behind the symlink")
        let err2 = #expect(throws: EngineError.self) { try write(w, "lnk", [3]) }
        #expect(err2?.kind == .extraction)
        #expect(s.isSymlink("lnk"))
    }

    @Test("a symlink that already exists in the root is never written through")
    func preExistingSymlink() throws {
        let s = try Sandbox(); defer { s.remove() }
        let outside = s.base + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data([9, 9]).write(to: URL(fileURLWithPath: outside + "/victim"))
        try FileManager.default.createDirectory(atPath: s.root, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: s.root + "/dir", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: s.root + "/file", withDestinationPath: outside + "/victim")

        let w = try plainWriter(s.root)
        let e1 = #expect(throws: EngineError.self) { try write(w, "dir/new", [1]) }
        #expect(e1?.kind == .extraction)
        let e2 = #expect(throws: EngineError.self) { try write(w, "file", [1]) }
        #expect(e2?.kind == .extraction)
        let e3 = #expect(throws: EngineError.self) { try w.makeDirectory("dir/sub", mode: 0o755, what: "test") }
        #expect(e3?.kind == .extraction)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["victim"])
        #expect(FileManager.default.contents(atPath: outside + "/victim") == Data([9, 9]))
    }

    @Test("a hard link is created inside the root and one whose target escapes is refused")
    func hardLinks() throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try write(w, "orig", [7, 7])
        try w.makeHardlink("copy", target: "orig", what: "test")
        #expect(s.contents("copy") == [7, 7])
        for target in ["../x", "/etc/passwd", "a/../../x"] {
            let err = #expect(throws: EngineError.self) { try w.makeHardlink("bad", target: target, what: "test") }
            #expect(err?.kind == .extraction)
        }
        #expect(s.contents("bad") == nil)
    }
}

// MARK: Tar extraction

struct HostileArchive: Sendable, CustomTestStringConvertible {
    var name: String
    var members: [[UInt8]]
    var testDescription: String { name }
}

private let hostileArchives: [HostileArchive] = [
    HostileArchive(name: "member ../evil", members: [member(.file, "../evil", data: [1])]),
    HostileArchive(name: "member a/../../evil", members: [member(.file, "ok", data: [1]), member(.file, "a/../../evil", data: [1])]),
    HostileArchive(name: "absolute member", members: [member(.file, "/tmp/flavor-treewriter-abs-evil", data: [1])]),
    HostileArchive(name: "absolute directory", members: [member(.directory, "/tmp/flavor-treewriter-abs-dir")]),
    HostileArchive(name: "symlink to ../outside then a file through it",
                   members: [member(.symlink, "esc", link: "../outside"), member(.file, "esc/pwned", data: [1])]),
    HostileArchive(name: "symlink to an absolute directory then a file through it",
                   members: [member(.symlink, "esc", link: "/tmp"), member(.file, "esc/pwned", data: [1])]),
    HostileArchive(name: "inside symlink then a file through it",
                   members: [member(.directory, "sub"), member(.symlink, "lnk", link: "sub"), member(.file, "lnk/f", data: [1])]),
    HostileArchive(name: "hard link to ../outside/victim", members: [member(.hardlink, "h", link: "../outside/victim")]),
]

@Suite("TreeWriter tar extraction")
struct TreeWriterTarTests {
    @Test("a plain archive is unpacked with its files, directories and symlinks")
    func plainArchive() throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try extract(w, archive([
            member(.directory, "app", mode: 0o755),
            member(.file, "app/run", mode: 0o755, data: Array("#!/bin/sh\n".utf8)),
            member(.file, "app/data/x.txt", data: Array("x".utf8)),
            member(.symlink, "app/current", link: "data"),
        ]))
        try w.finish()
        #expect(s.contents("app/run") == Array("#!/bin/sh\n".utf8))
        #expect(s.mode("app/run") == 0o755)
        #expect(s.contents("app/data/x.txt") == Array("x".utf8))
        #expect(s.isSymlink("app/current"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: s.root + "/app/current") == "data")
        #expect(w.filesWritten == 2)
    }

    @Test("hostile archives fail with an extraction error and create nothing outside the root",
          arguments: hostileArchives)
    func hostile(_ a: HostileArchive) throws {
        let s = try Sandbox(); defer { s.remove() }
        let outside = s.base + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data([5]).write(to: URL(fileURLWithPath: outside + "/victim"))
        let w = try plainWriter(s.root)
        let err = #expect(throws: EngineError.self) { try extract(w, archive(a.members)) }
        #expect(err?.kind == .extraction)
        #expect(s.outsideEntries() == ["outside", "root"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["victim"])
        #expect(FileManager.default.contents(atPath: outside + "/victim") == Data([5]))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/flavor-treewriter-abs-evil"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/flavor-treewriter-abs-dir"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/pwned"))
    }

    @Test("setuid bits in tar member modes are masked and plain modes are kept")
    func memberModes() throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try extract(w, archive([
            member(.file, "plain", mode: 0o755, data: [1]),
            member(.file, "suid", mode: 0o4755, data: [2]),
            member(.file, "ro", mode: 0o444, data: [3]),
        ]))
        try w.finish()
        #expect(s.mode("plain") == 0o755)
        #expect(s.mode("suid") == 0o755)
        #expect(s.mode("ro") == 0o444)
    }

    @Test("a read-only directory member still gets its children written")
    func readOnlyDirectoryChildren() throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try extract(w, archive([
            member(.directory, "ro", mode: 0o555),
            member(.file, "ro/f", mode: 0o644, data: Array("child".utf8)),
            member(.directory, "ro/inner", mode: 0o555),
            member(.file, "ro/inner/g", mode: 0o600, data: Array("grandchild".utf8)),
        ]))
        try w.finish()
        #expect(s.contents("ro/f") == Array("child".utf8))
        #expect(s.contents("ro/inner/g") == Array("grandchild".utf8))
    }

    @Test("a read-only directory member keeps owner rwx after finish(), so the workenv stays removable")
    func readOnlyDirectoryMode() throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try extract(w, archive([
            member(.directory, "ro", mode: 0o555),
            member(.file, "ro/f", mode: 0o644, data: Array("child".utf8)),
        ]))
        #expect(s.mode("ro") != 0o555, "modes are deferred until finish()")
        try w.finish()
        #expect(s.contents("ro/f") == Array("child".utf8))
        #expect(s.mode("ro") == 0o755)
    }

    @Test("directory member modes are applied by finish()")
    func directoryModeApplied() throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        try extract(w, archive([member(.directory, "d", mode: 0o750), member(.file, "d/f", data: [1])]))
        try w.finish()
        #expect(s.mode("d") == 0o750)
    }

    @Test("a symlink chain cannot be used to point a link outside the root")
    func symlinkChainEscape() throws {
        let s = try Sandbox(); defer { s.remove() }
        let w = try plainWriter(s.root)
        let result = Result<Void, EngineError>(catching: { () throws(EngineError) in
            try extract(w, archive([member(.symlink, "d", link: "."), member(.symlink, "e", link: "d/..")]))
        })
        let resolved = URL(fileURLWithPath: s.root + "/e").resolvingSymlinksInPath().path
        let root = URL(fileURLWithPath: s.root).resolvingSymlinksInPath().path
        let escaped = s.isSymlink("e") && !(resolved == root || resolved.hasPrefix(root + "/"))
        #expect(!escaped, "e resolves to \(resolved), outside \(root)")
        if case let .failure(e) = result { #expect(e.kind == .extraction) }
    }
}
