import Foundation
import Testing

@Suite("write backends: io_uring and plain syscalls, probe and fallback")
struct WriteBackendTests {
    /// Runs a program with io_uring_setup refused by seccomp (EPERM), as Docker's default profile does.
    static func noUringWrapper(_ d: TempDir) throws -> String {
        try FaultShim.refusing("io_uring_setup", errno: "EPERM")
    }

    @Test("with FLAVOR_IO=uring the extraction really goes through io_uring (once a slot has more than a handful of files)")
    func uringUsed() throws {
        let app = try DemoApp()
        try addFiles(app)
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        // Whole-buffer extraction (streamed slots always use plain syscalls; scripts/test also runs
        // the suite with every slot streamed).
        let r = try run("/usr/bin/strace", ["-f", "-c", "-o", app.dir.sub("st"), Tools.flavor, "extract-all", "-q", pkg, app.dir.sub("out")],
                        env: ["FLAVOR_IO": "uring", "FLAVOR_STREAM_THRESHOLD": "\(1 << 30)"])
        #expect(r.status == 0, "\(r.output)")
        let summary = try String(contentsOfFile: app.dir.sub("st"), encoding: .utf8)
        #expect(summary.contains("io_uring_enter"))
        #expect(try run("/usr/bin/diff", ["-r", app.dir.sub("tree/data"), app.dir.sub("out/data")]).status == 0)
    }

    @Test("a slot of a few files does not pay for a ring, even with FLAVOR_IO=uring")
    func fewFilesNoRing() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let r = try run("/usr/bin/strace", ["-f", "-c", "-o", app.dir.sub("st"), Tools.flavor, "extract-all", "-q", pkg, app.dir.sub("out")],
                        env: ["FLAVOR_IO": "uring"])
        #expect(r.status == 0, "\(r.output)")
        let summary = try String(contentsOfFile: app.dir.sub("st"), encoding: .utf8)
        #expect(!summary.contains("io_uring_enter"), "\(summary)")
        #expect(try run("/usr/bin/diff", ["-r", app.dir.sub("tree/data"), app.dir.sub("out/data")]).status == 0)
    }

    @Test("when io_uring_setup is refused, FLAVOR_IO=uring and auto fall back to plain syscalls and still extract", arguments: ["uring", "auto"])
    func fallback(_ mode: String) throws {
        let app = try DemoApp()
        let wrapper = try Self.noUringWrapper(app.dir)
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let r = try run(wrapper, [Tools.flavor, "extract-all", "-q", pkg, app.dir.sub("out")], env: ["FLAVOR_IO": mode])
        #expect(r.status == 0, "\(r.output)")
        if mode == "uring" { #expect(r.stderr.contains("using plain syscalls") && r.stderr.contains("not permitted"), "\(r.stderr)") }
        #expect(try run("/usr/bin/diff", ["-r", app.dir.sub("tree/data"), app.dir.sub("out/data")]).status == 0)
        // The launcher falls back the same way.
        let l = try run(wrapper, [pkg, "x"], env: ["FLAVOR_IO": mode, "FLAVOR_CACHE_DIR": app.dir.sub("c")])
        #expect(l.status == 0 && l.stdout.contains("args:x"), "\(l.output)")
    }
}

@Suite("FLAVOR_IO=auto follows this host's calibration")
struct IOCalibrationTests {
    @Test("bench --calibrate-io times both backends and saves the faster; auto then uses the saved choice")
    func calibrateAndFollow() throws {
        let app = try DemoApp()
        try addFiles(app)
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache")]
        let r = try run(Tools.flavor, ["bench", "--calibrate-io", app.dir.sub("tree"), "--repeats", "3", "--json"], env: env)
        #expect(r.status == 0, "\(r.output)")
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let preferred = try #require(j["preferred"] as? String)
        #expect(["posix", "uring"].contains(preferred))
        #expect((j["posix_seconds"] as? Double ?? 0) > 0)
        #expect(try String(contentsOfFile: app.dir.sub("cache/io-backend"), encoding: .utf8).hasPrefix(preferred))
        // Force each choice and check that auto's extraction really takes it.
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        for choice in ["uring", "posix"] {
            try Data(choice.utf8).write(to: URL(fileURLWithPath: app.dir.sub("cache/io-backend")))
            let out = app.dir.sub("out-\(choice)")
            let s = try run("/usr/bin/strace", ["-f", "-c", "-o", app.dir.sub("st-\(choice)"), Tools.flavor, "extract-all", "-q", pkg, out],
                            env: env.merging(["FLAVOR_IO": "auto", "FLAVOR_STREAM_THRESHOLD": "\(1 << 30)"]) { $1 })
            #expect(s.status == 0, "\(s.output)")
            let summary = try String(contentsOfFile: app.dir.sub("st-\(choice)"), encoding: .utf8)
            #expect(summary.contains("io_uring_enter") == (choice == "uring"), "\(choice): \(summary)")
        }
    }
}

/// Enough files that a writer sets up its ring (after the first 16; fewer use plain syscalls).
func addFiles(_ app: DemoApp) throws {
    for k in 0..<40 { try app.dir.write("tree/data/many/f\(k).txt", String(repeating: "\(k) ", count: k + 1)) }
}
