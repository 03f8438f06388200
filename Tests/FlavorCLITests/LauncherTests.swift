import Foundation
import Testing

@Suite("flavor-launcher: launch, workenv, tamper refusal, concurrency, crash safety, lazy slots")
struct LauncherTests {
    @Test("a bare launcher answers --version with exit 0")
    func bareVersion() throws {
        let r = try run(Tools.launcher, ["--version"])
        #expect(r.status == 0 && r.stdout.contains("flavor-launcher"))
    }

    @Test("a package runs its command with user args, env and the extracted files", arguments: IOVariant.allCases)
    func runs(_ io: IOVariant) throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(extra: ", \"runtime\": {\"env\": {\"set\": {\"APP_MODE\": \"prod\"}}}"), app.dir.sub("demo.psp"))
        let cache = app.dir.sub("cache")
        let r = try run(pkg, ["a", "b c"], env: io.env.merging(["FLAVOR_CACHE_DIR": cache]) { $1 })
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("args:a b c"))
        #expect(r.stdout.contains("GREETING=hi"))
        #expect(r.stdout.contains("MODE=prod"))
        #expect(r.stdout.contains("file:./bin/show.sh"))
        #expect(r.stdout.contains("file:./data/nested/b.txt 2500"))
        // Upstream's bookkeeping files are there, complete last.
        let meta = cache + "/workenv/.demo.pspf/instance"
        #expect(FileManager.default.fileExists(atPath: meta + "/extract/complete"))
        let checksum = try String(contentsOfFile: meta + "/package.checksum", encoding: .utf8)
        #expect(checksum.count == 8)
    }

    @Test("the exit code of the payload passes through in exec and spawn modes", arguments: ["exec", "spawn"])
    func exitCode(_ mode: String) throws {
        let d = TempDir()
        try d.write("m.json", """
            {"package": {"name": "ex", "version": "1"}, "execution": {"command": "/bin/sh -c \\"echo quoted; exit 7\\""}, "slots": []}
            """)
        let pkg = try flavorPack(d.sub("m.json"), d.sub("ex.psp"))
        let r = try run(pkg, [], env: ["FLAVOR_CACHE_DIR": d.sub("c"), "FLAVOR_EXEC_MODE": mode])
        #expect(r.status == 7)
        #expect(r.stdout.contains("quoted"))
    }

    @Test("a warm start reuses the workenv; FLAVOR_WORKENV_CACHE=false re-extracts")
    func warmStart() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache")]
        #expect(try run(pkg, [], env: env).status == 0)
        let a = app.dir.sub("cache/workenv/demo/data/a.txt")
        try Data("changed-by-test\n".utf8).write(to: URL(fileURLWithPath: a))
        let warm = try run(pkg, [], env: env)
        #expect(warm.stdout.contains("file:./data/a.txt 16"), "\(warm.stdout)")
        var cold = env; cold["FLAVOR_WORKENV_CACHE"] = "false"
        let again = try run(pkg, [], env: cold)
        #expect(again.stdout.contains("file:./data/a.txt 6"), "\(again.stdout)")
    }

    @Test("a package rebuilt under the same file name is detected and re-extracted")
    func rebuilt() throws {
        let app = try DemoApp()
        let pkg = app.dir.sub("demo.psp")
        try flavorPack(try app.manifest(), pkg)
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache")]
        #expect(try run(pkg, [], env: env).stdout.contains("file:./data/a.txt 6"))
        try app.dir.write("tree/data/a.txt", "alpha, second build\n")
        try flavorPack(try app.manifest(), pkg)
        let r = try run(pkg, [], env: env)
        #expect(r.status == 0)
        #expect(r.stdout.contains("file:./data/a.txt 20"), "\(r.stdout)")
    }

    @Test("a tampered package is refused at strict level and nothing of it runs", arguments: Tamper.allCases)
    func tamperedStrict(_ t: Tamper) throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let bad = app.dir.sub("bad.psp")
        try t.apply(pkg, bad)
        let marker = app.dir.sub("ran")
        let r = try run(bad, [], env: ["FLAVOR_CACHE_DIR": app.dir.sub("cache"), "MARKER": marker])
        #expect(r.status != 0)
        #expect(r.stderr.contains("flavor-launcher:"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("cache/workenv/bad/bin/show.sh")))
    }

    @Test("FLAVOR_VALIDATION=none runs a tampered package with a warning, as upstream")
    func tamperedNone() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let bad = app.dir.sub("bad.psp")
        try Tamper.indexByte.apply(pkg, bad)
        let r = try run(bad, [], env: ["FLAVOR_CACHE_DIR": app.dir.sub("cache"), "FLAVOR_VALIDATION": "none"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("NOT being checked"))
    }

    @Test("a launch killed with SIGKILL during extraction is followed by a launch that re-extracts and runs")
    func killedDuringExtraction() throws {
        let app = try DemoApp()
        let started = app.dir.sub("started.fifo"), release = app.dir.sub("release.fifo")
        #expect(mkfifo(started, 0o600) == 0 && mkfifo(release, 0o600) == 0)
        let counter = app.dir.sub("setups")
        // The setup command (run after the files are placed, before `complete`) parks on a FIFO
        // while the FIFOs exist, which gives the test a moment inside extraction to kill us.
        let cmd = "/bin/sh -c 'echo x >> \(counter); if [ -p \(started) ]; then echo in > \(started); cat \(release) >/dev/null; fi'"
        let pkg = try flavorPack(try app.manifest(extra: ", \"setup_commands\": [{\"type\": \"execute\", \"command\": \"\(cmd)\"}]"), app.dir.sub("demo.psp"))
        let pid = try spawnRaw(pkg, [], env: ["FLAVOR_CACHE_DIR": app.dir.sub("cache")])
        // Blocks until the setup command has opened the FIFO: extraction is under way.
        let h = try #require(FileHandle(forReadingAtPath: started))
        _ = h.readDataToEndOfFile()
        kill(pid, SIGKILL)
        let w = waitRaw(pid)
        #expect(!w.exited && w.value == SIGKILL)
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("cache/workenv/.demo.pspf/instance/extract/complete")))
        // Let the orphaned setup command finish, and take the FIFOs away for the next launch.
        try FileManager.default.removeItem(atPath: started)
        if let w = FileHandle(forWritingAtPath: release) { w.closeFile() }
        try FileManager.default.removeItem(atPath: release)
        let r = try run(pkg, ["after"], env: ["FLAVOR_CACHE_DIR": app.dir.sub("cache")])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("args:after"))
        #expect(try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n").count == 2)
    }

    @Test("a lazy slot is absent after launch, verified and present after ensure")
    func lazySlot() throws {
        let app = try DemoApp()
        try app.dir.write("big/blob.txt", String(repeating: "lazy data ", count: 1000))
        let extra = ""
        var m = try app.manifest(extra: extra)
        // Add a third, lazy slot.
        var text = try String(contentsOfFile: m, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"lifecycle\": \"runtime\"}\n ]", with: """
            "lifecycle": "runtime"},
               {"slot": 2, "id": "big", "source": "\(app.dir.sub("big"))", "target": "opt/big", "operations": "tgz", "lifecycle": "lazy"}
             ]
            """)
        m = app.dir.sub("lazy.json")
        try Data(text.utf8).write(to: URL(fileURLWithPath: m))
        let pkg = try flavorPack(m, app.dir.sub("demo.psp"))
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache")]
        let r = try run(pkg, [], env: env)
        #expect(r.status == 0, "\(r.output)")
        #expect(!r.stdout.contains("blob.txt"))
        let blob = app.dir.sub("cache/workenv/demo/opt/big/blob.txt")
        #expect(!FileManager.default.fileExists(atPath: blob))
        var cli = env; cli["FLAVOR_LAUNCHER_CLI"] = "1"
        let e = try run(pkg, ["ensure", "big"], env: cli)
        #expect(e.status == 0, "\(e.output)")
        #expect(e.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == app.dir.sub("cache/workenv/demo/opt/big"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: blob)).count == 10_000)
        // Already there: a second ensure succeeds and the next launch sees the file.
        #expect(try run(pkg, ["ensure", "2"], env: cli).status == 0)
        #expect(try run(pkg, [], env: env).stdout.contains("file:./opt/big/blob.txt 10000"))
    }

    @Test("ensure refuses a lazy slot whose bytes were tampered, writing nothing")
    func lazyTampered() throws {
        let app = try DemoApp()
        try app.dir.write("big/blob.txt", String(repeating: "lazy data ", count: 1000))
        let m = app.dir.sub("lazy.json")
        try app.dir.write("lazy.json", """
            {"package": {"name": "lz", "version": "1"}, "execution": {"command": "/bin/true"},
             "slots": [{"id": "big", "source": "\(app.dir.sub("big"))", "target": "opt/big", "operations": "tgz", "lifecycle": "lazy"}]}
            """)
        let pkg = try flavorPack(m, app.dir.sub("lz.psp"))
        var b = try readBytes(pkg)
        let idx = b.count - 8196, table = Int(le64(b, idx + 40))
        b[Int(le64(b, table + 16)) + 20] ^= 0x40
        try writeBytes(pkg, b)
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache")]
        #expect(try run(pkg, [], env: env).status == 0)  // the lazy slot is not read at launch
        let e = try run(pkg, ["ensure", "big"], env: env.merging(["FLAVOR_LAUNCHER_CLI": "1"]) { $1 })
        #expect(e.status == 107, "\(e.output)")
        #expect(e.stderr.contains("checksum"))
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("cache/workenv/lz/opt/big/blob.txt")))
    }

    @Test("launcher CLI mode: version, metadata, verify, info, unknown command")
    func launcherCLI() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let env = ["FLAVOR_LAUNCHER_CLI": "1", "FLAVOR_CACHE_DIR": app.dir.sub("cache")]
        #expect(try run(pkg, ["version"], env: env).status == 0)
        let meta = try run(pkg, ["metadata"], env: env)
        #expect(meta.status == 0 && meta.stdout.contains("\"PSPF/2025\""))
        #expect(try run(pkg, ["verify"], env: env).status == 0)
        #expect(try run(pkg, ["info"], env: env).stdout.contains("demo 1.2.3"))
        #expect(try run(pkg, ["bogus"], env: env).status == 105)
        let bad = app.dir.sub("bad.psp")
        try Tamper.forgedSlotAndDescriptor.apply(pkg, bad)
        #expect(try run(bad, ["verify"], env: env).status == 1)
    }
}

@Suite("flavor workenv and the default launcher")
struct WorkenvCLITests {
    @Test("workenv list/info/remove/clean see the launcher's cache and remove what they are asked to")
    func workenvCommands() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache")]
        #expect(try run(pkg, [], env: env).status == 0)
        let list = try run(Tools.flavor, ["workenv", "list", "--json"], env: env)
        #expect(list.status == 0)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 1 && rows.first?["name"] as? String == "demo" && rows.first?["complete"] as? Bool == true)
        #expect((rows.first?["files"] as? Int ?? 0) >= 4)
        // Without a name, as upstream's: the cache as a whole.
        let cache = try run(Tools.flavor, ["workenv", "info", "--json"], env: env)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(cache.stdout.utf8)) as? [String: Any], "\(cache.output)")
        #expect(summary["cache_dir"] as? String == app.dir.sub("cache/workenv") && summary["workenvs"] as? Int == 1)
        #expect((summary["bytes"] as? Int ?? 0) == (rows.first?["bytes"] as? Int ?? -1) && summary["incomplete"] as? Int == 0)
        let info = try run(Tools.flavor, ["workenv", "info", "demo"], env: env)
        #expect(info.status == 0 && info.stdout.contains("complete"))
        #expect(try run(Tools.flavor, ["workenv", "info", "nope"], env: env).status == 1)
        // As upstream's: removing asks first; with stdin not a terminal and no -y it refuses and keeps the workenv.
        let unconfirmed = try run(Tools.flavor, ["workenv", "remove", "demo"], env: env)
        #expect(unconfirmed.status == 1 && unconfirmed.stderr.contains("pass -y"))
        #expect(FileManager.default.fileExists(atPath: app.dir.sub("cache/workenv/demo")))
        #expect(try run(Tools.flavor, ["workenv", "remove", "nope", "-y"], env: env).status == 1)
        #expect(try run(Tools.flavor, ["workenv", "remove", "demo", "-y"], env: env).status == 0)
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("cache/workenv/demo")))
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("cache/workenv/.demo.pspf")))
        // Re-extracted on the next launch, then cleaned (--older-than 0 matches everything).
        #expect(try run(pkg, [], env: env).status == 0)
        #expect(try run(Tools.flavor, ["workenv", "clean", "--older-than", "1"], env: env).stdout.contains("nothing to clean"))
        let refused = try run(Tools.flavor, ["workenv", "clean"], env: env)
        #expect(refused.status == 1 && refused.stderr.contains("1 workenv (demo)"))
        #expect(FileManager.default.fileExists(atPath: app.dir.sub("cache/workenv/demo")))
        let cleaned = try run(Tools.flavor, ["workenv", "clean", "--yes", "--json"], env: env)
        #expect(cleaned.status == 0 && cleaned.stdout.contains("\"demo\""))
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("cache/workenv/demo")))
    }

    @Test("flavor pack uses the launcher next to it when --launcher-bin is not given (the Embedded build first)")
    func defaultLauncher() throws {
        let app = try DemoApp()
        let out = app.dir.sub("d.psp")
        let r = try run(Tools.flavor, ["pack", "--manifest", try app.manifest(), "--output", out, "--key-seed", "s", "-q"])
        #expect(r.status == 0, "\(r.output)")
        let embedded = Tools.buildDir + "/flavor-launcher-embedded"
        let expected = FileManager.default.isExecutableFile(atPath: embedded) ? embedded : Tools.buildDir + "/flavor-launcher"
        let launcherSize = try FileManager.default.attributesOfItem(atPath: expected)[.size] as? Int
        let i = try JSONSerialization.jsonObject(with: Data(try run(Tools.flavor, ["inspect", "--json", out]).stdout.utf8)) as? [String: Any]
        #expect((i?["launcher"] as? [String: Any])?["size"] as? Int == launcherSize)
        #expect(try run(out, ["d"], env: ["FLAVOR_CACHE_DIR": app.dir.sub("c")]).stdout.contains("args:d"))
    }

    @Test("a launcher error is one line naming what failed and what to do")
    func errorLine() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        try Tamper.metadataByte.apply(pkg, app.dir.sub("bad.psp"))
        let r = try run(app.dir.sub("bad.psp"), [], env: ["FLAVOR_CACHE_DIR": app.dir.sub("c")])
        #expect(r.status == 107)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("metadata-checksum") && r.stderr.contains("get a fresh copy"))
    }
}

/// A small tmpfs, to run out of space on purpose (root only; mounted for one test).
final class TinyFS {
    let path: String
    let mounted: Bool
    init(size: String) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tinyfs-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        mounted = (try? run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path]).status) == 0
    }
    /// Grows (or shrinks) the mounted file system in place.
    func resize(_ size: String) -> Bool {
        mounted && (try? run("/bin/mount", ["-o", "remount,size=\(size)", path]).status) == 0
    }
    deinit {
        if mounted { _ = try? run("/bin/umount", [path]) }
        try? FileManager.default.removeItem(atPath: path)
    }
    static var available: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount") }
}

@Suite("disk full", .enabled(if: TinyFS.available, "needs root to mount a small tmpfs"))
struct DiskFullTests {
    static func bigApp() throws -> (DemoApp, String) {
        let app = try DemoApp()
        var state: UInt64 = 7
        var blob = [UInt8](repeating: 0, count: 3 << 20)
        for i in blob.indices { state = state &* 6364136223846793005 &+ 1442695040888963407; blob[i] = UInt8(truncatingIfNeeded: state >> 33) }
        try Data(blob).write(to: URL(fileURLWithPath: app.dir.sub("tree/data/blob.bin")))
        return (app, try app.manifest())
    }

    @Test("a launch that runs out of space fails with the reason, runs nothing, leaves no trusted workenv, and runs once there is room",
          arguments: [false, true], IOVariant.allCases)
    func launchDiskFull(chunked: Bool, io: IOVariant) throws {
        let (app, m) = try Self.bigApp()
        // chunked: the 3 MiB file becomes a chunked gzip member, written by every worker with pwrite.
        let pkg = try flavorPack(m, app.dir.sub("demo.psp"), env: chunked ? ChunkedSlotTests.env : [:])
        if chunked { _ = try ChunkedSlotTests.chunkedSlot(pkg) }
        let fs = TinyFS(size: "1m")
        try #require(fs.mounted)
        let marker = app.dir.sub("ran")
        let env = io.env.merging(["FLAVOR_CACHE_DIR": fs.path, "MARKER": marker]) { $1 }
        let r = try run(pkg, [], env: env)
        #expect(r.status != 0)
        #expect(r.stderr.contains("No space left on device"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(!FileManager.default.fileExists(atPath: fs.path + "/workenv/.demo.pspf/instance/extract/complete"))
        #expect(!FileManager.default.fileExists(atPath: fs.path + "/workenv/demo"))
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: fs.path + "/workenv/.demo.pspf/tmp")) ?? []
        #expect(staging.isEmpty, "\(staging)")
        // The same cache, grown: the next launch extracts everything and runs.
        try #require(fs.resize("16m"))
        let again = try run(pkg, ["after"], env: env)
        #expect(again.status == 0 && again.stdout.contains("args:after"), "\(again.output)")
        #expect(FileManager.default.fileExists(atPath: marker))
        let blob = try Data(contentsOf: URL(fileURLWithPath: fs.path + "/workenv/demo/data/blob.bin"))
        #expect(blob == (try Data(contentsOf: URL(fileURLWithPath: app.dir.sub("tree/data/blob.bin")))))
    }

    @Test("a pack whose output runs out of space fails and leaves no partial file (nor spool)", arguments: [false, true])
    func packDiskFull(spooled: Bool) throws {
        let (app, m) = try Self.bigApp()
        defer { withExtendedLifetime(app) {} }  // its directory holds the manifest
        let fs = TinyFS(size: "1m")
        try #require(fs.mounted)
        let r = try run(Tools.flavor, ["pack", "--manifest", m, "--output", fs.path + "/demo.psp", "--launcher-bin", Tools.launcher, "--key-seed", "s"],
                        env: spooled ? ["FLAVOR_PACK_SPOOL_BYTES": "0"] : [:])
        #expect(r.status == 1)
        #expect(r.stderr.contains("No space left on device"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: fs.path).isEmpty)
    }
}
