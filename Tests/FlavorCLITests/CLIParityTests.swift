import FlavorEngine
import Foundation
import Testing

/// `flavor doctor --json`: the exit status, the checks by name, and `ok`.
struct DoctorReport {
    let result: RunResult
    let checks: [[String: Any]]
    let ok: Bool?

    init(_ r: RunResult) throws {
        result = r
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.output)")
        checks = try #require(j["checks"] as? [[String: Any]])
        ok = j["ok"] as? Bool
    }

    func check(_ name: String) throws -> [String: Any] {
        try #require(checks.first { $0["name"] as? String == name }, "no \(name) check in \(result.stdout)")
    }
    func status(_ name: String) throws -> String? { try check(name)["status"] as? String }
    func detail(_ name: String) throws -> String { (try check(name)["detail"] as? String) ?? "" }
    var errors: [String] { checks.filter { $0["status"] as? String == "error" }.compactMap { $0["name"] as? String } }
}

extension ConfigHome {
    func doctor(_ extra: [String: String] = [:], via wrapper: [String] = []) throws -> DoctorReport {
        let env = self.env.merging(extra) { $1 }
        let r = wrapper.isEmpty ? try run(Tools.flavor, ["doctor", "--json"], env: env)
            : try run(wrapper[0], Array(wrapper.dropFirst()) + [Tools.flavor, "doctor", "--json"], env: env)
        return try DoctorReport(r)
    }
}

@Suite("flavor doctor")
struct CLIParityDoctorTests {
    @Test("a sound installation: exit 0, ok true, a static launcher, a writable cache and an io_uring finding that matches the probe")
    func healthy() throws {
        let home = ConfigHome()
        try FileManager.default.createDirectory(atPath: home.dir.sub("cache"), withIntermediateDirectories: true)
        let d = try home.doctor()
        #expect(d.result.status == 0 && d.ok == true && d.errors.isEmpty, "\(d.result.output)")
        #expect(try d.status("launcher:flavor-launcher") == "ok")
        #expect(try d.detail("launcher:flavor-launcher").contains(Tools.buildDir + "/flavor-launcher: static executable"))
        #expect(try d.status("cache") == "ok" && d.detail("cache").contains(home.dir.sub("cache") + " (from FLAVOR_CACHE_DIR): writable"))
        #expect(try d.status("io_uring") == (WriteBackend.uringUnavailableReason == nil ? "ok" : "warn"), "\((try? d.detail("io_uring")) ?? "")")
        #expect(try d.detail("io_uring").contains("/proc/sys/kernel/io_uring_disabled"))
        #expect(try d.status("policy") == "ok")
        // Every check says what it found; only the ones that are not OK carry a fix.
        for c in d.checks {
            #expect(!((c["detail"] as? String) ?? "").isEmpty)
            #expect((c["status"] as? String == "ok") == (c["fix"] == nil), "\(c)")
        }
        let text = try home.flavor(["doctor"])
        let lines = text.stdout.split(separator: "\n")
        #expect(text.status == 0 && lines.count == d.checks.count + 1, "\(text.output)")
        #expect(lines.dropLast().allSatisfy { $0.hasPrefix("[OK]   ") || $0.hasPrefix("[WARN] ") }, "\(text.stdout)")
        #expect(lines.last?.hasPrefix("doctor: ") == true && lines.last?.hasSuffix(" 0 errors") == true)
    }

    @Test("a cache root that is a file, or below one, is an error that says to set FLAVOR_CACHE_DIR", arguments: ["file", "file/sub"])
    func cacheNotADirectory(_ rel: String) throws {
        let home = ConfigHome()
        try home.dir.write("file", "not a directory\n")
        let d = try home.doctor(["FLAVOR_CACHE_DIR": home.dir.sub(rel)])
        #expect(d.result.status == 1 && d.ok == false && d.errors == ["cache"], "\(d.result.output)")
        #expect(try d.detail("cache").contains(rel == "file" ? "not a directory" : "cannot be created: \(home.dir.sub("file")) is not a directory"))
        #expect(try (d.check("cache")["fix"] as? String)?.contains("FLAVOR_CACHE_DIR") == true)
        let text = try run(Tools.flavor, ["doctor"], env: home.env.merging(["FLAVOR_CACHE_DIR": home.dir.sub(rel)]) { $1 })
        #expect(text.status == 1 && text.stdout.contains("[ERR]  cache: \(home.dir.sub(rel))"), "\(text.output)")
    }

    @Test("a cache root that does not exist yet is fine when it can be created, and doctor does not create it")
    func cacheNotCreatedYet() throws {
        let home = ConfigHome()
        let root = home.dir.sub("new/deeper/cache")
        let d = try home.doctor(["FLAVOR_CACHE_DIR": root])
        #expect(try d.result.status == 0 && d.status("cache") == "ok", "\(d.result.output)")
        #expect(try d.detail("cache").contains("not created yet") && d.detail("cache").contains("(\(home.dir.path) is writable)"))
        #expect(!FileManager.default.fileExists(atPath: home.dir.sub("new")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.dir.path).allSatisfy { !$0.hasPrefix(".flavor-doctor") })
    }

    @Test("a cache root on a read-only file system is an error (root bypasses mode bits, so a real mkdir decides)",
          .enabled(if: TinyFS.available, "needs root to mount"))
    func cacheReadOnly() throws {
        let home = ConfigHome()
        let fs = TinyFS(size: "1m")
        try #require(fs.mounted)
        #expect(try home.doctor(["FLAVOR_CACHE_DIR": fs.path]).result.status == 0)
        try #require(try run("/bin/mount", ["-o", "remount,ro", fs.path]).status == 0)
        let d = try home.doctor(["FLAVOR_CACHE_DIR": fs.path])
        #expect(d.result.status == 1 && d.errors == ["cache"], "\(d.result.output)")
        #expect(try d.detail("cache").contains("not writable") && d.detail("cache").contains("Read-only file system"))
    }

    @Test("a cache root on a noexec mount is an error", .enabled(if: TinyFS.available, "needs root to mount"))
    func cacheNoexec() throws {
        let home = ConfigHome()
        let fs = TinyFS(size: "1m")
        try #require(fs.mounted)
        try #require(try run("/bin/mount", ["-o", "remount,noexec", fs.path]).status == 0)
        let d = try home.doctor(["FLAVOR_CACHE_DIR": fs.path + "/cache"])
        #expect(d.result.status == 1 && d.errors == ["cache"], "\(d.result.output)")
        #expect(try d.detail("cache").contains("noexec"))
    }

    @Test("a broken policy.json is an error naming the file (it would stop every launch)", arguments: [
        ("{\"version\": 1, \"trust\": ", "invalid policy file"),
        ("{\"version\": 1, \"trust\": {\"require_trusted_keys\": true}}", "unknown policy key \"trust.require_trusted_keys\""),
    ])
    func brokenPolicy(_ text: String, _ reason: String) throws {
        let home = ConfigHome()
        try home.writePolicy(text)
        let d = try home.doctor()
        #expect(d.result.status == 1 && d.ok == false && d.errors == ["policy"], "\(d.result.output)")
        #expect(try d.detail("policy").contains(home.user + "/policy.json") && d.detail("policy").contains(reason), "\((try? d.detail("policy")) ?? "")")
        #expect(try (d.check("policy")["fix"] as? String)?.contains("109") == true)
    }

    @Test("a policy that requires a trusted key with none trusted is an error until a key is added")
    func requiredKeyMissing() throws {
        let app = try DemoApp(), home = ConfigHome()
        try home.writePolicy("{\"version\": 1, \"trust\": {\"require_trusted_key\": true}}")
        var d = try home.doctor()
        #expect(try d.result.status == 1 && d.errors == ["policy"] && d.detail("policy").contains("every launch is refused"), "\(d.result.output)")
        let (_, pub) = try signedDemo(app)
        #expect(try home.flavor(["trust", "add", pub, "-q"]).status == 0)
        d = try home.doctor()
        #expect(try d.result.status == 0 && d.status("policy") == "ok", "\(d.result.output)")
        #expect(try d.detail("trusted-keys:user") == home.user + "/trusted-keys: 1 key")
    }

    @Test("a key file that is not a key is a warning naming it; the good keys are counted")
    func badKeyFile() throws {
        let app = try DemoApp(), home = ConfigHome()
        let (_, pub) = try signedDemo(app)
        #expect(try home.flavor(["trust", "add", pub, "-q"]).status == 0)
        try home.dir.write("home/.config/flavor/trusted-keys/broken.pub", "not a PEM\n")
        let d = try home.doctor()
        #expect(try d.result.status == 0 && d.status("trusted-keys:user") == "warn", "\(d.result.output)")
        #expect(try d.detail("trusted-keys:user").contains("1 key; skipped 1 unreadable: \(home.user)/trusted-keys/broken.pub"))
    }

    @Test("io_uring refused by seccomp (Docker's default) is a warning with the errno and the sysctl value")
    func uringRefusedBySeccomp() throws {
        let home = ConfigHome()
        let d = try home.doctor(via: [try FaultShim.refusing("io_uring_setup", errno: "EPERM")])
        #expect(try d.result.status == 0 && d.status("io_uring") == "warn", "\(d.result.output)")
        let detail = try d.detail("io_uring")
        let sysctl = (try? String(contentsOfFile: "/proc/sys/kernel/io_uring_disabled", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if sysctl == nil || sysctl == "0" { #expect(detail.contains("io_uring_setup failed: Operation not permitted"), "\(detail)") }
        if let sysctl { #expect(detail.contains("/proc/sys/kernel/io_uring_disabled=\(sysctl)"), "\(detail)") }
        #expect(detail.contains("falls back to plain syscalls"))
    }

    @Test("kernel.io_uring_disabled=2 (seen through a private mount) is a warning that shows the value",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root and unshare"))
    func uringDisabledBySysctl() throws {
        let home = ConfigHome()
        try home.dir.write("disabled", "2\n")
        let script = "mount --bind \"$1\" /proc/sys/kernel/io_uring_disabled && exec \"$2\" doctor --json"
        let d = try DoctorReport(try run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", home.dir.sub("disabled"), Tools.flavor],
                                         env: home.env))
        #expect(try d.result.status == 0 && d.status("io_uring") == "warn", "\(d.result.output)")
        #expect(try d.detail("io_uring").contains("io_uring_disabled=2"))
    }

    @Test("without python3, patchelf and strip on PATH each is a warning naming the apt package; no error")
    func toolchainMissing() throws {
        let home = ConfigHome()
        let empty = home.dir.sub("emptybin")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let d = try home.doctor(["PATH": empty])
        #expect(d.result.status == 0 && d.ok == true, "\(d.result.output)")
        for (tool, package) in [("python3", "python3"), ("patchelf", "patchelf"), ("strip", "binutils")] {
            #expect(try d.status(tool) == "warn")
            #expect(try (d.check(tool)["fix"] as? String)?.contains("apt-get install \(package)") == true)
        }
        // With the real PATH the same tools are found (the machine has them: scripts/install-deps).
        let found = try home.doctor()
        #expect(try found.status("patchelf") == "ok" && found.status("strip") == "ok")
    }

    @Test("a dynamically linked or non-executable launcher next to flavor is an error")
    func badLaunchers() throws {
        let d = TempDir("flavor-doctor-bin")
        try FileManager.default.copyItem(atPath: Tools.flavor, toPath: d.sub("flavor"))
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: d.sub("flavor-launcher"))
        try d.write("flavor-launcher-embedded", "#!/bin/sh\n", mode: 0o644)
        let home = ConfigHome()
        let r = try DoctorReport(try run(d.sub("flavor"), ["doctor", "--json"], env: home.env))
        #expect(r.result.status == 1 && Set(r.errors) == ["launcher:flavor-launcher", "launcher:flavor-launcher-embedded"], "\(r.result.output)")
        #expect(try r.detail("launcher:flavor-launcher").contains("dynamically linked"))
        #expect(try r.detail("launcher:flavor-launcher-embedded").contains("not an executable file"))
        // Copy the real launcher in: all good again.
        try FileManager.default.removeItem(atPath: d.sub("flavor-launcher"))
        try FileManager.default.removeItem(atPath: d.sub("flavor-launcher-embedded"))
        try FileManager.default.copyItem(atPath: Tools.buildDir + "/flavor-launcher", toPath: d.sub("flavor-launcher"))
        let fixed = try DoctorReport(try run(d.sub("flavor"), ["doctor", "--json"], env: home.env))
        #expect(try fixed.result.status == 0 && fixed.status("launcher:flavor-launcher") == "ok", "\(fixed.result.output)")
        #expect(try fixed.status("launcher:flavor-launcher-embedded") == "warn")
    }
}

@Suite("upstream's confirmations and short flags")
struct CLIParityUpstreamFlagTests {
    @Test("workenv remove and workenv clean ask on a terminal as upstream's do: n keeps, y removes", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a pty"))
    func workenvAsksOnTerminal() throws {
        let c = try TwoWorkenvs()
        let no = try run("/usr/bin/script", ["-qec", "\(Tools.flavor) workenv remove demo", "/dev/null"], env: c.home.env, input: "n\n")
        #expect(no.stdout.contains("Remove workenv demo? [y/N]") && no.stdout.contains("nothing removed"), "\(no.output)")
        #expect(c.exists("demo"))
        let yes = try run("/usr/bin/script", ["-qec", "\(Tools.flavor) workenv remove demo", "/dev/null"], env: c.home.env, input: "y\n")
        #expect(yes.stdout.contains("removed demo"), "\(yes.output)")
        #expect(!c.exists("demo") && !c.exists(".demo.pspf") && c.exists("other"))
        let clean = try run("/usr/bin/script", ["-qec", "\(Tools.flavor) workenv clean", "/dev/null"], env: c.home.env, input: "y\n")
        #expect(clean.stdout.contains("Remove 1 workenv (other)? [y/N]") && clean.stdout.contains("removed other"), "\(clean.output)")
        #expect(!c.exists("other"))
    }

    @Test("flavor -V prints the version, as --version does")
    func shortVersion() throws {
        let short = try run(Tools.flavor, ["-V"]), long = try run(Tools.flavor, ["--version"])
        #expect(short.status == 0 && long.status == 0)
        #expect(short.stdout == long.stdout && !short.stdout.isEmpty)
    }
}

/// A cache with two workenvs ("demo" and "other": the same package under two names), made by running them.
struct TwoWorkenvs {
    let app: DemoApp
    let home = ConfigHome()
    init() throws {
        app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        try FileManager.default.copyItem(atPath: pkg, toPath: app.dir.sub("other.psp"))
        for p in [pkg, app.dir.sub("other.psp")] {
            let r = try run(p, ["x"], env: home.env)
            try #require(r.status == 0, "\(r.output)")
        }
    }
    func exists(_ rel: String) -> Bool { FileManager.default.fileExists(atPath: home.dir.sub("cache/workenv/" + rel)) }
    var all: [String] { ["demo", ".demo.pspf", "other", ".other.pspf"] }
}

@Suite("flavor clean")
struct CLIParityCleanTests {
    func json(_ r: RunResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.output)")
    }

    @Test("--dry-run lists every workenv with its size and removes nothing")
    func dryRun() throws {
        let c = try TwoWorkenvs()
        let r = try c.home.flavor(["clean", "--dry-run"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("would remove workenv demo") && r.stdout.contains("would remove workenv other") && r.stdout.contains("nothing removed"), "\(r.stdout)")
        #expect(c.all.allSatisfy(c.exists))
        let j = try json(try c.home.flavor(["clean", "--dry-run", "--json"]))
        let items = try #require(j["items"] as? [[String: Any]])
        #expect(j["dry_run"] as? Bool == true && items.compactMap { $0["name"] as? String } == ["demo", "other"])
        let sizes = items.compactMap { $0["bytes"] as? Int }
        #expect(sizes.count == 2 && sizes.allSatisfy { $0 > 0 } && j["total_bytes"] as? Int == sizes.reduce(0, +) && j["freed_bytes"] as? Int == 0)
        #expect(c.all.allSatisfy(c.exists))
    }

    @Test("without -y and with stdin not a terminal it refuses, exit 1, and removes nothing")
    func refusesWithoutYes() throws {
        let c = try TwoWorkenvs()
        let r = try c.home.flavor(["clean"])
        #expect(r.status == 1 && r.stderr.contains("stdin is not a terminal") && r.stderr.contains("-y") && r.stderr.contains("2 workenvs"), "\(r.output)")
        #expect(c.all.allSatisfy(c.exists))
    }

    @Test("-y removes every workenv and its metadata dir and prints the bytes freed; then there is nothing to clean")
    func removes() throws {
        let c = try TwoWorkenvs()
        let planned = try json(try c.home.flavor(["clean", "--dry-run", "--json"]))["total_bytes"] as? Int
        let r = try c.home.flavor(["clean", "-y"])
        #expect(r.status == 0 && r.stdout.contains("freed ") && r.stdout.contains("(\(planned ?? -1) bytes)"), "\(r.output)")
        #expect(!c.all.contains(where: c.exists))
        let again = try c.home.flavor(["clean"])
        #expect(again.status == 0 && again.stdout.contains("nothing to clean"), "\(again.output)")
        // The next launch extracts again.
        #expect(try run(c.app.dir.sub("demo.psp"), ["y"], env: c.home.env).stdout.contains("args:y"))
        #expect(c.exists("demo"))
    }

    @Test("--all --json also removes the build cache's runtimes and archives, keeping other files, trusted keys and policy")
    func all() throws {
        let c = try TwoWorkenvs()
        let build = c.home.dir.sub("build")
        try c.home.dir.write("build/runtime-3.11.7-abc/python/bin/python3.11", String(repeating: "x", count: 5000))
        try c.home.dir.write("build/archive-0123456789abcdef/python/README", "y")
        try c.home.dir.write("build/notes.txt", "mine")
        let (_, pub) = try signedDemo(c.app)
        #expect(try c.home.flavor(["trust", "add", pub, "-q"]).status == 0)
        #expect(try c.home.flavor(["policy", "init", "-q"]).status == 0)
        let env = c.home.env.merging(["FLAVOR_BUILD_CACHE": build]) { $1 }
        let r = try run(Tools.flavor, ["clean", "--all", "-y", "--json"], env: env)
        #expect(r.status == 0, "\(r.output)")
        let j = try json(r)
        let items = try #require(j["items"] as? [[String: Any]])
        let kinds = items.map { "\($0["kind"] ?? "")/\($0["name"] ?? "")" }
        #expect(kinds == ["workenv/demo", "workenv/other", "build-cache/archive-0123456789abcdef", "build-cache/runtime-3.11.7-abc"], "\(kinds)")
        #expect(j["dry_run"] as? Bool == false && (j["freed_bytes"] as? Int ?? 0) > 5000 && j["freed_bytes"] as? Int == j["total_bytes"] as? Int)
        #expect(try FileManager.default.contentsOfDirectory(atPath: build) == ["notes.txt"])
        #expect(!c.all.contains(where: c.exists))
        #expect(try FileManager.default.contentsOfDirectory(atPath: c.home.user + "/trusted-keys").count == 1)
        #expect(FileManager.default.fileExists(atPath: c.home.user + "/policy.json"))
    }

    @Test("on a terminal it asks: n keeps everything, y removes", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a pty"))
    func asksOnTerminal() throws {
        let c = try TwoWorkenvs()
        let no = try run("/usr/bin/script", ["-qec", "\(Tools.flavor) clean", "/dev/null"], env: c.home.env, input: "n\n")
        #expect(no.stdout.contains("Remove 2 workenvs (") && no.stdout.contains("MB)? [y/N]") && no.stdout.contains("nothing removed"), "\(no.output)")
        #expect(c.all.allSatisfy(c.exists))
        let yes = try run("/usr/bin/script", ["-qec", "\(Tools.flavor) clean", "/dev/null"], env: c.home.env, input: "y\n")
        #expect(yes.stdout.contains("freed "), "\(yes.output)")
        #expect(!c.all.contains(where: c.exists))
    }
}

@Suite("flavor workenv inspect")
struct CLIParityWorkenvInspectTests {
    /// The demo app with a third, lazy slot, run once: the lazy slot is not extracted.
    static func lazyDemo() throws -> (DemoApp, String, [String: String]) {
        let app = try DemoApp()
        try app.dir.write("big/blob.txt", String(repeating: "lazy data ", count: 1000))
        let text = try String(contentsOfFile: try app.manifest(), encoding: .utf8).replacingOccurrences(of: "\"lifecycle\": \"runtime\"}\n ]", with: """
            "lifecycle": "runtime"},
               {"slot": 2, "id": "big", "source": "\(app.dir.sub("big"))", "target": "opt/big", "operations": "tgz", "lifecycle": "lazy"}
             ]
            """)
        try app.dir.write("lazy.json", text)
        let pkg = try flavorPack(app.dir.sub("lazy.json"), app.dir.sub("demo.psp"))
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache")]
        try #require(try run(pkg, [], env: env).status == 0)
        return (app, pkg, env)
    }

    func inspect(_ env: [String: String]) throws -> [String: Any] {
        let r = try run(Tools.flavor, ["workenv", "inspect", "demo", "--json"], env: env)
        try #require(r.status == 0, "\(r.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    @Test("--json: package, build, index, lock and every slot of the package with its lifecycle and presence")
    func json() throws {
        let (app, pkg, env) = try Self.lazyDemo()
        let j = try inspect(env)
        let pkgInfo = try #require(try JSONSerialization.jsonObject(with: Data(try run(Tools.flavor, ["inspect", "--json", pkg]).stdout.utf8)) as? [String: Any])
        let header = try #require(pkgInfo["package"] as? [String: Any])
        #expect(j["complete"] as? Bool == true && j["path"] as? String == app.dir.sub("cache/workenv/demo"))
        #expect(j["metadata_dir"] as? String == app.dir.sub("cache/workenv/.demo.pspf"))
        #expect(j["index_checksum"] as? String == header["index_checksum"] as? String)
        #expect((j["index"] as? [String: Any])?["index_checksum"] as? String == header["index_checksum"] as? String)
        let package = j["package"] as? [String: Any]
        #expect(package?["name"] as? String == "demo" && package?["version"] as? String == "1.2.3")
        #expect((j["build"] as? [String: Any])?["tool"] as? String == header["build_tool"] as? String)
        #expect((j["lock"] as? [String: Any])?["state"] as? String == "free")
        #expect((j["files"] as? Int ?? 0) >= 4 && (j["bytes"] as? Int ?? 0) > 2500)
        let slots = try #require(j["slots"] as? [[String: Any]])
        let expected = try #require(pkgInfo["slots"] as? [[String: Any]])
        #expect(slots.map { $0["id"] as? String } == expected.map { $0["id"] as? String })
        #expect(slots.map { $0["size"] as? Int } == expected.map { $0["size"] as? Int })
        #expect(slots.map { $0["lifecycle"] as? String } == expected.map { $0["lifecycle"] as? String })
        for s in slots {
            // What the launch extracted is present; the lazy slot is not (nor an attestation, which stays in the package).
            let eager = !["lazy", "attestation", "dev"].contains(s["lifecycle"] as? String ?? "")
            #expect(s["present"] as? Bool == eager, "\(s)")
        }
        // After `ensure` the lazy slot is present.
        #expect(try run(pkg, ["ensure", "big"], env: env.merging(["FLAVOR_LAUNCHER_CLI": "1"]) { $1 }).status == 0)
        let after = try #require(try inspect(env)["slots"] as? [[String: Any]])
        #expect(after.first { $0["id"] as? String == "big" }?["present"] as? Bool == true)
    }

    @Test("text: one line per fact and per slot; an incomplete workenv says so")
    func text() throws {
        let (app, _, env) = try Self.lazyDemo()
        var r = try run(Tools.flavor, ["workenv", "inspect", "demo"], env: env)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("package        demo 1.2.3\n") && r.stdout.contains("state          complete\n") && r.stdout.contains("lock           free\n"), "\(r.stdout)")
        #expect(r.stdout.contains("  [2] big  lazy  opt/big  ") && r.stdout.contains(" B stored  absent\n"), "\(r.stdout)")
        #expect(r.stdout.contains("  [0] show  runtime  bin/show.sh  ") && r.stdout.contains(" B stored  present\n"))
        try FileManager.default.removeItem(atPath: app.dir.sub("cache/workenv/.demo.pspf/instance/extract/complete"))
        r = try run(Tools.flavor, ["workenv", "inspect", "demo", "--json"], env: env)
        #expect(try (JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["complete"] as? Bool == false)
        #expect(try run(Tools.flavor, ["workenv", "inspect", "demo"], env: env).stdout.contains("state          incomplete"))
    }

    @Test("while a launch holds the extraction lock, inspect says so with its pid")
    func lockHeld() throws {
        let (app, _, env) = try Self.lazyDemo()
        let fd = open(app.dir.sub("cache/workenv/.demo.pspf/instance/extract/lock"), O_RDWR | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX) == 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        let j = try inspect(env)
        let lock = j["lock"] as? [String: Any]
        #expect(lock?["state"] as? String == "held" && lock?["pid"] as? Int == Int(getpid()), "\(String(describing: lock))")
        #expect(try run(Tools.flavor, ["workenv", "inspect", "demo"], env: env).stdout.contains("lock           held by pid \(getpid())"))
    }

    @Test("an unknown name exits 1 naming it and the cache dir")
    func unknown() throws {
        let (app, _, env) = try Self.lazyDemo()
        let r = try run(Tools.flavor, ["workenv", "inspect", "nope", "--json"], env: env)
        #expect(r.status == 1 && r.stdout.isEmpty && r.stderr.contains("\"nope\"") && r.stderr.contains(app.dir.sub("cache/workenv")), "\(r.output)")
    }
}

@Suite("scripts/install: binaries, completions and man pages")
struct CLIParityInstallTests {
    static let script = Tools.repoRoot + "/scripts/install"

    /// Every command path the parser reports ("flavor", "flavor workenv", "flavor workenv inspect"), but help.
    static func commandPaths() throws -> [[String]] {
        let dump = try run(Tools.flavor, ["--experimental-dump-help"])
        let j = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        func walk(_ c: [String: Any], _ path: [String]) -> [[String]] {
            let here = path + [c["commandName"] as? String ?? "?"]
            let subs = (c["subcommands"] as? [[String: Any]] ?? []).filter { $0["commandName"] as? String != "help" }
            return [here] + subs.flatMap { walk($0, here) }
        }
        return walk(try #require(j["command"] as? [String: Any]), [])
    }

    @Test("--prefix with an existing build dir installs the binaries, completions that complete every subcommand, and a man page per command")
    func install() throws {
        let d = TempDir("flavor-install")
        let r = try run(Self.script, ["--prefix", d.sub("usr"), "--build-dir", Tools.buildDir])
        #expect(r.status == 0, "\(r.output)")
        let p = d.sub("usr")
        for exe in ["bin/flavor", "bin/flavor-launcher"] { #expect(FileManager.default.isExecutableFile(atPath: p + "/" + exe), "\(exe)") }
        #expect(FileManager.default.fileExists(atPath: p + "/bin/flavor-launcher-embedded")
                == FileManager.default.fileExists(atPath: Tools.buildDir + "/flavor-launcher-embedded"))
        for f in ["share/zsh/site-functions/_flavor", "share/fish/vendor_completions.d/flavor.fish"] {
            #expect(((try? String(contentsOfFile: p + "/" + f, encoding: .utf8)) ?? "").contains("doctor"), "\(f)")
        }
        let paths = try Self.commandPaths()
        let top = paths.filter { $0.count == 2 }.map { $0[1] }
        #expect(top.contains("doctor") && top.contains("clean") && paths.contains(["flavor", "workenv", "inspect"]))
        // bash: what the completion function offers after `flavor ` and after `flavor workenv `.
        func complete(_ words: [String]) throws -> [String] {
            let line = words.joined(separator: " ") + " "
            let script = """
                shopt -s extglob; source "$1"; COMP_WORDS=(\(words.joined(separator: " ")) ""); COMP_CWORD=\(words.count)
                COMP_LINE='\(line)'; COMP_POINT=\(line.utf8.count); _flavor flavor "" \(words.last!); printf '%s\\n' "${COMPREPLY[@]}"
                """
            let c = try run("/bin/bash", ["-c", script, "bash", p + "/share/bash-completion/completions/flavor"])
            #expect(c.status == 0, "\(c.output)")
            return c.stdout.split(separator: "\n").map(String.init)
        }
        #expect(try Set(top).isSubset(of: Set(complete(["flavor"]))), "\((try? complete(["flavor"])) ?? [])")
        let workenvSubs = paths.filter { $0.count == 3 && $0[1] == "workenv" }.map { $0[2] }
        #expect(try !workenvSubs.isEmpty && Set(workenvSubs).isSubset(of: Set(complete(["flavor", "workenv"]))))
        // man: one page per command path, each a valid mdoc page that man renders.
        let man1 = p + "/share/man/man1"
        #expect(try Set(FileManager.default.contentsOfDirectory(atPath: man1)) == Set(paths.map { $0.joined(separator: "-") + ".1" }))
        let page = try String(contentsOfFile: man1 + "/flavor.1", encoding: .utf8)
        #expect(page.hasPrefix(".Dd ") && page.contains("\n.Dt FLAVOR 1\n") && page.contains("\n.Sh NAME\n"))
        let rendered = try run("/usr/bin/man", ["-l", man1 + "/flavor.1"], env: ["MANPAGER": "cat", "MANWIDTH": "120", "LC_ALL": "C"])
        #expect(rendered.status == 0 && rendered.stdout.contains("SYNOPSIS"), "\(rendered.output)")
        for name in top { #expect(rendered.stdout.contains(" \(name) ") || rendered.stdout.contains(" \(name)\n"), "\(name)") }
        let lint = try run("/usr/bin/groff", ["-mdoc", "-Tutf8", "-ww", "-z", man1 + "/flavor-workenv-inspect.1"])
        #expect(lint.status == 0 && lint.stderr.isEmpty, "\(lint.output)")
        // The installed flavor finds the installed launcher next to itself.
        let home = ConfigHome()
        let doctor = try DoctorReport(try run(p + "/bin/flavor", ["doctor", "--json"], env: home.env))
        #expect(try doctor.detail("launcher:flavor-launcher").hasPrefix(p + "/bin/flavor-launcher: static executable"), "\(doctor.result.output)")
    }

    @Test("DESTDIR stages the files under DESTDIR/PREFIX")
    func destdir() throws {
        let d = TempDir("flavor-install")
        let r = try run(Self.script, ["--prefix", "/opt/flavor", "--build-dir", Tools.buildDir], env: ["DESTDIR": d.sub("stage")])
        #expect(r.status == 0, "\(r.output)")
        #expect(FileManager.default.isExecutableFile(atPath: d.sub("stage/opt/flavor/bin/flavor")))
        #expect(FileManager.default.fileExists(atPath: d.sub("stage/opt/flavor/share/man/man1/flavor-doctor.1")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: d.sub("stage")) == ["opt"])
    }

    @Test("a relative prefix or a build dir without flavor is refused with exit 1, installing nothing", arguments: [
        (["--prefix", "relative/dir"], "absolute"),
        (["--build-dir", "/nonexistent-build"], "no build directory"),
    ])
    func refused(_ args: [String], _ reason: String) throws {
        let d = TempDir("flavor-install")
        let r = try run(Self.script, args + (args[0] == "--prefix" ? ["--build-dir", Tools.buildDir] : ["--prefix", d.sub("p")]))
        #expect(r.status == 1 && r.stderr.hasPrefix("install: ") && r.stderr.contains(reason), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: d.sub("p")))
    }
}

/// `flavor pack --verify/--no-verify`, `--strip`, `--progress`: what upstream's pack flags promise.
@Suite("flavor pack: --verify, --strip, --progress")
struct CLIParityPackFlagTests {
    /// A launcher that is a shell script failing every run: the package builds but cannot verify.
    static func failingLauncher(_ dir: TempDir) throws -> String {
        try dir.write("bad-launcher", "#!/bin/sh\necho \"broken launcher: $*\" >&2\nexit 3\n", mode: 0o755)
        return dir.sub("bad-launcher")
    }

    func pack(_ app: DemoApp, _ out: String, launcher: String = Tools.launcher, _ extra: [String]) throws -> RunResult {
        try run(Tools.flavor, ["pack", "--manifest", try app.manifest(), "--output", out, "--launcher-bin", launcher, "--key-seed", "s"] + extra)
    }

    @Test("by default the package is verified by its own launcher: a package that fails is removed, exit 1, with the launcher's words")
    func verifyFailureRemoves() throws {
        let app = try DemoApp()
        let out = app.dir.sub("out/v.psp")
        try FileManager.default.createDirectory(atPath: app.dir.sub("out"), withIntermediateDirectories: true)
        let r = try pack(app, out, launcher: try Self.failingLauncher(app.dir), [])
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains("\(out): its launcher's verify failed (exit 3): broken launcher: verify") && r.stderr.contains("--no-verify"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: app.dir.sub("out")).isEmpty)
    }

    @Test("--no-verify keeps what was built (--json says verified false); a good package verifies (verified true) and runs")
    func noVerifyAndJSON() throws {
        let app = try DemoApp()
        let bad = app.dir.sub("bad.psp"), good = app.dir.sub("good.psp")
        let r = try pack(app, bad, launcher: try Self.failingLauncher(app.dir), ["--no-verify", "--json"])
        #expect(r.status == 0 && FileManager.default.fileExists(atPath: bad), "\(r.output)")
        #expect(try jsonObject(r.stdout)["verified"] as? Bool == false)
        let g = try pack(app, good, ["--json"])
        try #require(g.status == 0, "\(g.output)")
        let j = try jsonObject(g.stdout)
        #expect(j["verified"] as? Bool == true && j["package"] as? String == good)
        #expect((j["slots"] as? [[String: Any]])?.map { $0["id"] as? String } == ["show", "tree", "_attestation"])
        #expect(g.stderr.isEmpty, "--json alone is silent on stderr: \(g.stderr)")
        let home = ConfigHome()
        #expect(try run(good, [], env: home.env).status == 0 && home.ran)
    }

    @Test("--strip prepends a stripped copy of the launcher: smaller, no symbol table, the package verifies and runs, no copy left behind")
    func strip() throws {
        let app = try DemoApp()
        let unstrippedLauncher = Tools.buildDir + "/flavor-launcher"
        let plain = app.dir.sub("out/plain.psp"), stripped = app.dir.sub("out/stripped.psp")
        try FileManager.default.createDirectory(atPath: app.dir.sub("out"), withIntermediateDirectories: true)
        try #require(try pack(app, plain, launcher: unstrippedLauncher, ["--quiet"]).status == 0)
        let s = try pack(app, stripped, launcher: unstrippedLauncher, ["--strip", "--quiet"])
        try #require(s.status == 0, "\(s.output)")
        func launcherSize(_ p: String) throws -> Int? { (try jsonObject(try run(Tools.flavor, ["inspect", "--json", p]).stdout)["launcher"] as? [String: Any])?["size"] as? Int }
        let before = try #require(try launcherSize(plain)), after = try #require(try launcherSize(stripped))
        #expect(after < before, "\(after) vs \(before)")
        let head = app.dir.sub("head")
        try writeBytes(head, Array(try readBytes(stripped).prefix(after)))
        let symbols = try run("/usr/bin/readelf", ["-S", head])
        #expect(symbols.status == 0 && !symbols.stdout.contains(".symtab"), "\(symbols.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: app.dir.sub("out")).sorted() == ["plain.psp", "stripped.psp"])
        let home = ConfigHome()
        #expect(try run(stripped, [], env: home.env).status == 0 && home.ran)
        // A launcher strip cannot read: exit 1 naming it, nothing written.
        try app.dir.write("not-elf", "plain text\n", mode: 0o755)
        let bad = try pack(app, app.dir.sub("out/bad.psp"), launcher: app.dir.sub("not-elf"), ["--strip"])
        #expect(bad.status == 1 && bad.stderr.contains("--strip: strip \(app.dir.sub("not-elf")) failed"), "\(bad.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: app.dir.sub("out")).sorted() == ["plain.psp", "stripped.psp"])
    }

    @Test("--progress keeps progress on stderr with --json (stdout stays one JSON document); with --quiet it is a usage error (64)")
    func progress() throws {
        let app = try DemoApp()
        let r = try pack(app, app.dir.sub("p.psp"), ["--json", "--progress"])
        try #require(r.status == 0, "\(r.output)")
        #expect(try jsonObject(r.stdout)["package"] as? String == app.dir.sub("p.psp"))
        #expect(r.stderr.contains("encoded ") && r.stderr.contains("wrote ") && r.stderr.contains("verified"), "\(r.stderr)")
        let q = try pack(app, app.dir.sub("q.psp"), ["--progress", "--quiet"])
        #expect(q.status == 64 && q.stderr.contains("--progress and --quiet contradict each other"), "\(q.output)")
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("q.psp")))
    }
}
