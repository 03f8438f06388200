import Foundation
import Testing
import FlavorFormat
import FlavorSys
@testable import FlavorEngine

// MARK: Fixture

/// The launcher SwiftPM built next to this test runner (FLAVOR_TEST_LAUNCHER: another build of it,
/// as in FlavorCLITests).
private let builtLauncher: String = {
    if let l = ProcessInfo.processInfo.environment["FLAVOR_TEST_LAUNCHER"], !l.isEmpty { return l }
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    if dir.path.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
    return dir.path + "/flavor-launcher"
}()

/// The libc this machine's launcher will find, as the engine reads it.
private let systemLibc = GlibcRequirement.systemGlibc(paths: GlibcRequirement.libcPaths, log: { _ in })

private final class Scratch {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("glibc-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ bytes: [UInt8], mode: Int = 0o644) throws -> String {
        let p = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: p)
        return p
    }

    /// A package whose command prints a line; `minGlibc` goes to compatibility.min_glibc.
    func package(minGlibc: String?, launcher: String = "/bin/true", name: String = "needs.psp") throws -> String {
        let script = try write("hello.sh", Array("#!/bin/sh\necho \"hello $*\"\n".utf8), mode: 0o755)
        var plan = PackPlan(name: "needs", version: "1.0", launcherPath: launcher, command: "{workenv}/bin/hello.sh",
                            key: Ed25519.keyPair(seedString: "glibc"))
        var slot = PackSlot(id: "hello", source: "hello.sh", target: "bin/hello.sh", content: .file(script), chain: .none)
        slot.permissions = "0755"
        plan.slots = [slot]
        plan.minGlibc = minGlibc
        plan.sourceDateEpoch = 1_700_000_000
        let out = path + "/" + name
        _ = try Packer.pack(plan, to: out, settings: .forTests())
        return out
    }

    /// A copy of libc whose GLIBC_2.x names read GLIBC_1.x: an "old" libc.
    func oldLibc() throws -> String {
        var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try #require(systemLibc).path)))
        let from = Array("GLIBC_2.".utf8)
        var i = 0
        while i + from.count <= b.count {
            if b[i] == from[0], Array(b[i..<(i + from.count)]) == from { b[i + 6] = UInt8(ascii: "1"); i += from.count } else { i += 1 }
        }
        return try write("libc.so.6", b)
    }
}

private func metadata(minGlibc: String?) throws -> Metadata {
    let compat = minGlibc.map { #", "compatibility": {"min_format_version": "1.0.0", "features": [], "min_glibc": "\#($0)"}"# } ?? ""
    let text = #"{"format": "PSPF/2025", "package": {"name": "p", "version": "1"}, "execution": {"command": "x"}, "slots": []\#(compat)}"#
    return try Metadata(jsonBytes: Array(text.utf8), deferSlots: true)
}

private func settings(_ edit: (inout Settings) -> Void = { _ in }) -> Settings {
    var s = Settings(lookup: { _ in nil })
    edit(&s)
    return s
}

private func refusal(_ body: () throws(EngineError) -> Void) -> EngineError? {
    do throws(EngineError) { try body(); return nil } catch { return error }
}

private struct Ran { var status: Int32; var stdout: String; var stderr: String }

private func launch(_ exe: String, _ args: [String] = [], env: [String: String], via wrapper: [String] = []) throws -> Ran {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: wrapper.first ?? exe)
    p.arguments = wrapper.isEmpty ? args : Array(wrapper.dropFirst()) + [exe] + args
    var e = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FLAVOR_") }
    for (k, v) in env { e[k] = v }
    p.environment = e
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    // A package written a moment ago may still be open in a child another test thread is
    // forking (until its exec closes it): ETXTBSY for that window, so try again.
    var attempt = 0
    while true {
        do { try p.run(); break } catch let e as NSError {
            let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError
            let busy = (e.domain == NSPOSIXErrorDomain && e.code == Int(ETXTBSY)) || underlying?.code == Int(ETXTBSY)
            attempt += 1
            if !busy || attempt > 200 { throw e }
            sched_yield()
        }
    }
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Ran(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

// MARK: Tests

@Suite("compatibility.min_glibc")
struct GlibcRequirementTests {
    @Test("the system libc is found and read: its newest GLIBC_ version, at least 2.34")
    func systemLibcFound() throws {
        let found = try #require(systemLibc, "no libc.so.6 in GlibcRequirement.libcPaths")
        #expect(found.version >= GlibcVersion(major: 2, minor: 34))
        let direct = try ELF(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: found.path))))
        #expect(direct.newestGlibcDefined == found.version)
    }

    @Test("places without a libc are skipped; a file without GLIBC_ versions or not ELF is logged and skipped")
    func candidates() throws {
        let s = Scratch()
        let text = try s.write("notelf", Array("#!/bin/sh\n".utf8) + [UInt8](repeating: 0x20, count: 100))
        let lib = try #require(systemLibc).path
        let logs = Locked([String]())
        let found = GlibcRequirement.systemGlibc(paths: ["/nonexistent/libc.so.6", "/bin/ls", text, lib]) { m in logs.update { $0.append(m) } }
        #expect(found?.path == lib)
        #expect(logs.get().count == 2, "\(logs.get())")
        #expect(logs.get().first == "/bin/ls defines no GLIBC_ version")
        #expect(logs.get().last?.hasPrefix(text + ": ELF: no ELF magic") == true, "\(logs.get())")
        #expect(GlibcRequirement.systemGlibc(paths: ["/nonexistent", "/bin/ls"]) { _ in } == nil)
    }

    @Test("a newer min_glibc than the system's is refused as a dependency failure (exit 110) naming both versions")
    func refusesNewer() throws {
        let found = try #require(systemLibc)
        let e = try #require(refusal { () throws(EngineError) in try GlibcRequirement.check(try! metadata(minGlibc: "2.99"), settings: settings()) })
        #expect(e.kind == .dependency)
        #expect(LauncherExit.code(for: e) == 110)
        #expect(e.message == "this package needs glibc 2.99 or newer; this system has glibc \(found.version) (\(found.path))")
        let next = GlibcVersion(major: found.version.major, minor: found.version.minor + 1)
        #expect(refusal { () throws(EngineError) in try GlibcRequirement.check(try! metadata(minGlibc: next.description), settings: settings()) } != nil)
    }

    @Test("an equal or older min_glibc, none, or no libc found passes", arguments: ["2.17", "2.2.5", "same", nil] as [String?])
    func passes(_ min: String?) throws {
        let found = try #require(systemLibc)
        let m = try metadata(minGlibc: min == "same" ? found.version.description : min)
        #expect(refusal { () throws(EngineError) in try GlibcRequirement.check(m, settings: settings()) } == nil)
        let none = settings { $0.libcPaths = ["/nonexistent/libc.so.6"] }
        #expect(refusal { () throws(EngineError) in try GlibcRequirement.check(try! metadata(minGlibc: "99.0"), settings: none) } == nil)
    }

    @Test("a min_glibc that is not a version is a configuration error")
    func malformed() throws {
        let e = refusal { () throws(EngineError) in try GlibcRequirement.check(try! metadata(minGlibc: "GLIBC_2.34"), settings: settings()) }
        #expect(e?.kind == .config)
        #expect(e?.message.contains("compatibility.min_glibc \"GLIBC_2.34\"") == true)
    }

    @Test("PackPlan.minGlibc is written as compatibility.min_glibc and read back as Metadata.minGlibc")
    func packed() throws {
        let s = Scratch()
        for min in ["2.34", nil] as [String?] {
            let m = try Verifier.verifyHeader(try PackageReader(path: try s.package(minGlibc: min)), deferSlots: true)
            #expect(m.minGlibc == min)
            let compat = try #require(m.json["compatibility"]?.objectValue)
            #expect(compat.map { $0.0 } == (min == nil ? ["min_format_version", "features"] : ["min_format_version", "features", "min_glibc"]))
        }
    }

    @Test("cold: an old libc refuses before anything is written; warm: libc is not read at all")
    func coldOnly() throws {
        let s = Scratch()
        let old = try s.oldLibc()
        #expect(try ELF(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: old)))).newestGlibcDefined?.major == 1)
        let pkg = try PackageReader(path: try s.package(minGlibc: "2.30"))
        let m = try Verifier.verifyHeader(pkg, deferSlots: true)
        let cache = s.path + "/cache"
        let paths = WorkenvPaths(cacheRoot: cache, packageFileName: pkg.fileName)
        let oldSettings = settings { $0.libcPaths = [old] }

        let e = refusal { () throws(EngineError) in try Workenv.prepare(pkg, m, paths, settings: oldSettings) { _ in } }
        #expect(e?.kind == .dependency)
        let v = try #require(systemLibc).version
        let patched = GlibcVersion(major: 1, minor: v.minor, patch: v.patch)
        #expect(e?.message == "this package needs glibc 2.30 or newer; this system has glibc \(patched) (\(old))")
        #expect(!FileManager.default.fileExists(atPath: cache), "nothing is written before the check")

        var extracted = false
        #expect(refusal { () throws(EngineError) in extracted = try Workenv.prepare(pkg, m, paths, settings: settings()) { _ in } } == nil)
        #expect(extracted)
        #expect(FileManager.default.fileExists(atPath: paths.workenv + "/bin/hello.sh"))

        // Warm: the old libc would refuse, so passing shows it was never consulted.
        #expect(refusal { () throws(EngineError) in extracted = try Workenv.prepare(pkg, m, paths, settings: oldSettings) { _ in } } == nil)
        #expect(!extracted)
        let cold = settings { $0.libcPaths = [old]; $0.workenvCache = false }
        #expect(refusal { () throws(EngineError) in _ = try Workenv.prepare(pkg, m, paths, settings: cold) { _ in } }?.kind == .dependency)
    }
}

@Suite("compatibility.min_glibc in the built launcher")
struct GlibcLauncherTests {
    @Test("the launcher refuses with one line and exit 110, extracting nothing")
    func refuses() throws {
        let s = Scratch()
        let found = try #require(systemLibc)
        let pkg = try s.package(minGlibc: "2.99", launcher: builtLauncher)
        let cache = s.path + "/cache"
        let r = try launch(pkg, ["x"], env: ["FLAVOR_CACHE_DIR": cache])
        #expect(r.status == 110)
        #expect(r.stderr == "flavor-launcher: this package needs glibc 2.99 or newer; this system has glibc \(found.version) (\(found.path))\n")
        #expect(r.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: cache + "/workenv/needs"))
        #expect(!FileManager.default.fileExists(atPath: cache + "/workenv/.needs.pspf/instance/extract/complete"))
    }

    @Test("a min_glibc this system meets runs the package")
    func runs() throws {
        let s = Scratch()
        let found = try #require(systemLibc)
        let pkg = try s.package(minGlibc: found.version.description, launcher: builtLauncher)
        let r = try launch(pkg, ["there"], env: ["FLAVOR_CACHE_DIR": s.path + "/cache"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "hello there\n")
    }

    @Test("a warm start opens no libc; a cold one does (strace)", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/strace")))
    func warmOpensNoLibc() throws {
        let s = Scratch()
        let found = try #require(systemLibc)
        let pkg = try s.package(minGlibc: "2.17", launcher: builtLauncher)
        let env = ["FLAVOR_CACHE_DIR": s.path + "/cache"]
        /// The files the launcher opened before it exec'd the payload (which loads libc itself).
        func launcherOpens(_ env: [String: String]) throws -> [String] {
            let trace = s.path + "/trace-\(UUID().uuidString)"
            let r = try launch(pkg, [], env: env, via: ["/usr/bin/strace", "-e", "trace=openat,open,execve", "-o", trace])
            try #require(r.status == 0, "\(r.stderr)")
            let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
            let execs = lines.indices.filter { lines[$0].hasPrefix("execve(") }
            try #require(execs.count >= 2, "expected the launcher and the payload to be exec'd: \(lines)")
            return lines[execs[0]..<execs[1]].filter { $0.hasPrefix("open") }.map(String.init)
        }
        let cold = try launcherOpens(env)
        #expect(cold.contains { $0.contains("\"\(found.path)\"") }, "the cold start reads libc: \(cold)")
        let warm = try launcherOpens(env)
        #expect(!warm.contains { $0.contains("libc.so") }, "the warm start opened: \(warm)")
        #expect(warm.contains { $0.contains("package.checksum") }, "the trace sees the warm check: \(warm)")
    }
}

/// A value shared between closures behind a lock.
private final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    func update(_ f: (inout T) -> Void) { lock.lock(); f(&value); lock.unlock() }
}
