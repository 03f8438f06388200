import Foundation
import Testing

/// Faults at scale (issue 11 §4): kills at random points of an extraction, many first launches at
/// once, hostile environments, the package replaced under a running launch. The invariant every
/// time: the next launch succeeds and its workenv is byte for byte a clean one.
@Suite("chaos: random kills, concurrency, environments, replacement")
struct ChaosTests {
    /// The demo app's listing forks `wc` per file: these launches skip it (the trees are compared instead).
    static let quiet = ["NO_LISTING": "1"]

    /// The demo app plus `files` small files in 40 directories, so an extraction takes long enough to be hit.
    static func bigDemo(files: Int) throws -> DemoApp {
        let app = try DemoApp()
        for i in 0..<files {
            try app.dir.write("tree/many/d\(i % 40)/f\(i).txt", String(repeating: "file \(i) ", count: 1 + i % 37))
        }
        return app
    }

    /// Differences between two trees (contents, modes, links), as `diff -r` and `find -printf` see them.
    static func treeDifference(_ a: String, _ b: String) throws -> String {
        let d = try run("/usr/bin/diff", ["-r", "--no-dereference", a, b])
        let list = { (p: String) throws -> String in
            try run("/bin/sh", ["-c", "cd \"$1\" && find . -printf '%p %M %l\\n' | LC_ALL=C sort", "sh", p]).stdout
        }
        let (la, lb) = (try list(a), try list(b))
        return (d.status == 0 ? "" : d.output) + (la == lb ? "" : "listing differs")
    }

    @Test("SIGKILL at random points of 50 extractions of 2,000 files (1–3 kills in a row): every next launch succeeds with a clean tree")
    func randomKills() throws {
        let app = try Self.bigDemo(files: 2000)
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        // The clean reference, and how long a cold launch takes here (the range the kills are drawn from).
        let clean = app.dir.sub("clean")
        var t0 = Date()
        let first = try run(pkg, ["ref"], env: Self.quiet.merging(["FLAVOR_CACHE_DIR": clean]) { $1 })
        // The range kills are drawn from: the quickest whole cold launch seen so far (each trial's
        // relaunch is one more sample), so a slow first run on a busy machine does not push the
        // kills past the end of the extractions.
        var coldSeconds = Date().timeIntervalSince(t0)
        try #require(first.status == 0, "\(first.output)")
        var rng = SystemRandomNumberGenerator()
        var killedMidway = 0, kills = 0
        for trial in 0..<50 {
            let cache = app.dir.sub("c\(trial)")
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let pid = try spawnRaw(pkg, ["k"], env: Self.quiet.merging(["FLAVOR_CACHE_DIR": cache]) { $1 })
                usleep(useconds_t(Double.random(in: 0..<coldSeconds, using: &rng) * 1e6))
                kill(pid, SIGKILL)
                kills += 1
                let w = waitRaw(pid)
                if !w.exited && !FileManager.default.fileExists(atPath: cache + "/workenv/.demo.pspf/instance/extract/complete") {
                    killedMidway += 1
                }
            }
            try? FileManager.default.removeItem(atPath: cache + "-timing")
            t0 = Date()
            let timing = try run(pkg, ["timing"], env: Self.quiet.merging(["FLAVOR_CACHE_DIR": cache + "-timing"]) { $1 })
            coldSeconds = min(coldSeconds, Date().timeIntervalSince(t0))
            #expect(timing.status == 0)
            let r = try run(pkg, ["after"], env: Self.quiet.merging(["FLAVOR_CACHE_DIR": cache]) { $1 })
            #expect(r.status == 0 && r.stdout.contains("args:after"), "trial \(trial): \(r.output)")
            let diff = try Self.treeDifference(clean + "/workenv/demo", cache + "/workenv/demo")
            #expect(diff.isEmpty, "trial \(trial): the tree differs from a clean one: \(diff.prefix(2000))")
            let staging = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/workenv/.demo.pspf/tmp")) ?? []
            #expect(staging.isEmpty, "trial \(trial): staging left: \(staging)")
            try? FileManager.default.removeItem(atPath: cache)
            try? FileManager.default.removeItem(atPath: cache + "-timing")
        }
        print("randomKills: \(kills) kills, \(killedMidway) inside an extraction, kill range ≤ \(Int(coldSeconds * 1000)) ms")
        // The kills must mostly land inside extractions, or this would test nothing.
        #expect(killedMidway >= 25, "only \(killedMidway) kills landed before the workenv was complete")
    }

    @Test("64 concurrent first launches all succeed with exactly one extraction")
    func concurrentFirstLaunches() throws {
        let app = try Self.bigDemo(files: 300)
        let counter = app.dir.sub("extractions")
        let m = try app.manifest(extra: ", \"setup_commands\": [{\"type\": \"execute\", \"command\": \"/bin/sh -c 'echo x >> \(counter)'\"}]")
        let pkg = try flavorPack(m, app.dir.sub("demo.psp"))
        let env = Self.quiet.merging(["FLAVOR_CACHE_DIR": app.dir.sub("cache")]) { $1 }
        var procs = [Process]()
        for i in 0..<64 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: pkg)
            p.arguments = ["n\(i)"]
            p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FLAVOR_") }.merging(env) { $1 }
            #expect(FileManager.default.createFile(atPath: app.dir.sub("out\(i)"), contents: nil))
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: app.dir.sub("out\(i)")))
            p.standardError = FileHandle.nullDevice
            procs.append(p)
        }
        // All started before any is waited for.
        for p in procs { try startRetryingTextBusy(p) }
        for (i, p) in procs.enumerated() {
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "launch \(i)")
            let out = try String(contentsOfFile: app.dir.sub("out\(i)"), encoding: .utf8)
            #expect(out.contains("args:n\(i)"), "launch \(i): \(out)")
        }
        let x = try run(Tools.flavor, ["extract-all", pkg, app.dir.sub("ref")])
        try #require(x.status == 0)
        #expect(try Self.treeDifference(app.dir.sub("ref/many"), app.dir.sub("cache/workenv/demo/many")).isEmpty)
        #expect(try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n").count == 1)
    }

    @Test("a package replaced (flavor pack to the same path) during a launch of the old one: both run their own build, then warm starts")
    func replacedDuringLaunch() throws {
        let app = try DemoApp()
        let fifo = app.dir.sub("hold.fifo"), go = app.dir.sub("go")
        #expect(mkfifo(fifo, 0o600) == 0)
        // The setup command (inside extraction, before `complete`) waits on the FIFO until `go` exists.
        let setup = ", \"setup_commands\": [{\"type\": \"execute\", \"command\": \"/bin/sh -c 'if [ ! -e \(go) ]; then cat \(fifo) >/dev/null; fi'\"}]"
        // The command lives outside the workenv: the old launch's app starts while the new build may
        // already be replacing the tree (one workenv per package name; what an app that is running
        // sees of its replaced tree is not the launcher's to promise).
        let manifest = try app.manifest(extra: setup)
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
            .replacingOccurrences(of: "\"command\": \"{workenv}/bin/show.sh\"", with: "\"command\": \"/bin/echo launched\"")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)
        try app.dir.write("tree/data/version.txt", "v1\n")
        let pkg = app.dir.sub("demo.psp")
        _ = try flavorPack(manifest, pkg)
        let cache = app.dir.sub("cache")
        let oldOut = app.dir.sub("old.out")
        #expect(FileManager.default.createFile(atPath: oldOut, contents: nil))
        let old = Process()
        old.executableURL = URL(fileURLWithPath: pkg)
        old.arguments = ["old"]
        old.environment = ["FLAVOR_CACHE_DIR": cache, "PATH": "/usr/bin:/bin"]
        old.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: oldOut))
        old.standardError = FileHandle.nullDevice
        try startRetryingTextBusy(old)
        // Wait until the old launch is inside its extraction: its setup command holds the FIFO open.
        let probe = try #require(FileHandle(forWritingAtPath: fifo))   // opens once the reader is there
        // The new build replaces the file (rename over it) while the old launcher maps the old one.
        try app.dir.write("tree/data/version.txt", "v2-longer\n")
        _ = try flavorPack(manifest, pkg)
        // The new build's first launch starts now and waits for the old one's lock.
        let newOut = app.dir.sub("new.out")
        #expect(FileManager.default.createFile(atPath: newOut, contents: nil))
        let new = Process()
        new.executableURL = URL(fileURLWithPath: pkg)
        new.arguments = ["new"]
        new.environment = old.environment
        new.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: newOut))
        new.standardError = FileHandle.nullDevice
        try startRetryingTextBusy(new)
        try app.dir.write("go", "")
        probe.closeFile()
        old.waitUntilExit()
        new.waitUntilExit()
        // The old launch finished its extraction from the old file and ran (what its app then sees
        // of a workenv the new build is replacing is the app's business: it was replaced under it).
        #expect(old.terminationStatus == 0)
        #expect(try String(contentsOfFile: oldOut, encoding: .utf8) == "launched old\n")
        #expect(new.terminationStatus == 0)
        #expect(try String(contentsOfFile: newOut, encoding: .utf8) == "launched new\n")
        #expect(try String(contentsOfFile: cache + "/workenv/demo/data/version.txt", encoding: .utf8) == "v2-longer\n")
        let warm = try run(pkg, ["warm"], env: ["FLAVOR_CACHE_DIR": cache, "FLAVOR_LOG_LEVEL": "info"])
        #expect(warm.status == 0 && !warm.stderr.contains("extracting"), "\(warm.output)")
    }

    @Test("no HOME, no XDG_CACHE_HOME, no FLAVOR_CACHE_DIR: the launch uses /tmp/flavor and runs")
    func noHome() throws {
        let app = try DemoApp()
        let name = "nohome\(UInt32.random(in: 0...UInt32.max))"
        let pkg = try flavorPack(try app.manifest(name: name), app.dir.sub("\(name).psp"))
        defer {
            try? FileManager.default.removeItem(atPath: "/tmp/flavor/workenv/\(name)")
            try? FileManager.default.removeItem(atPath: "/tmp/flavor/workenv/.\(name).pspf")
        }
        let r = try run(pkg, ["x"], env: ["PATH": "/usr/bin:/bin"], inheritEnv: false)
        #expect(r.status == 0 && r.stdout.contains("args:x"), "\(r.output)")
        #expect(FileManager.default.fileExists(atPath: "/tmp/flavor/workenv/\(name)/bin/show.sh"))
    }

    @Test("package on a read-only tmpfs, cache on another file system: runs", .enabled(if: TinyFS.available, "needs root to mount"))
    func readOnlyPackageMount() throws {
        let app = try DemoApp()
        let fs = TinyFS(size: "64m")
        try #require(fs.mounted)
        _ = try flavorPack(try app.manifest(), fs.path + "/demo.psp")
        try #require(try run("/bin/mount", ["-o", "remount,ro", fs.path]).status == 0)
        let r = try run(fs.path + "/demo.psp", ["x"], env: ["FLAVOR_CACHE_DIR": app.dir.sub("cache")])
        #expect(r.status == 0 && r.stdout.contains("args:x"), "\(r.output)")
    }

    @Test("a read-only cache root fails with one line that names it and says what to set", .enabled(if: TinyFS.available, "needs root to mount"))
    func readOnlyCache() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let fs = TinyFS(size: "1m")
        try #require(fs.mounted)
        try #require(try run("/bin/mount", ["-o", "remount,ro", fs.path]).status == 0)
        let r = try run(pkg, ["x"], env: ["FLAVOR_CACHE_DIR": fs.path, "MARKER": app.dir.sub("ran")])
        #expect(r.status == 106, "\(r.output)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(fs.path) && r.stderr.contains("FLAVOR_CACHE_DIR"), "\(r.stderr)")
        #expect(r.stderr.contains("Read-only file system"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("ran")))
    }

    @Test("a cache on a noexec mount fails with one line that says so and what to set", .enabled(if: TinyFS.available, "needs root to mount"))
    func noexecCache() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let fs = TinyFS(size: "16m")
        try #require(fs.mounted)
        try #require(try run("/bin/mount", ["-o", "remount,noexec", fs.path]).status == 0)
        let r = try run(pkg, ["x"], env: ["FLAVOR_CACHE_DIR": fs.path])
        #expect(r.status == 104, "\(r.output)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("noexec") && r.stderr.contains("FLAVOR_CACHE_DIR"), "\(r.stderr)")
    }

    @Test("kernel.io_uring_disabled=2 (seen through a private mount): FLAVOR_IO=uring and auto fall back and give the same tree",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root and unshare"),
          arguments: ["uring", "auto"])
    func uringDisabledBySysctl(_ mode: String) throws {
        let app = try Self.bigDemo(files: 100)
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        try app.dir.write("disabled", "2\n")
        let script = "mount --bind \"$1\" /proc/sys/kernel/io_uring_disabled && exec \"$2\" x"
        let r = try run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", app.dir.sub("disabled"), pkg],
                        env: ["FLAVOR_CACHE_DIR": app.dir.sub("cache"), "FLAVOR_IO": mode])
        #expect(r.status == 0 && r.stdout.contains("args:x"), "\(r.output)")
        if mode == "uring" { #expect(r.stderr.contains("using plain syscalls") && r.stderr.contains("io_uring_disabled"), "\(r.stderr)") }
        let x = try run(Tools.flavor, ["extract-all", pkg, app.dir.sub("ref")])
        try #require(x.status == 0)
        #expect(try run("/usr/bin/diff", ["-r", app.dir.sub("ref/data"), app.dir.sub("cache/workenv/demo/data")]).status == 0)
        #expect(try run("/usr/bin/diff", ["-r", app.dir.sub("ref/many"), app.dir.sub("cache/workenv/demo/many")]).status == 0)
    }
}
