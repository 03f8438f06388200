import Foundation
import Testing

/// Progressive Python (issue 12): examples/sciapp depends on sympy, mpmath, networkx and numpy
/// (~190 MB installed) and its --help imports none of them. Packed, those are lazy slots that a
/// launch extracts only when the app imports them.
enum ProgressiveFixtures {
    static let project = Tools.repoRoot + "/examples/sciapp"

    /// The wheels the example needs, pinned, fetched once from PyPI.
    static let wheelhouse: Result<String, Error> = Result {
        let dir = PythonFixtures.cacheRoot + "/sciapp-wheelhouse"
        if FileManager.default.fileExists(atPath: dir + "/.complete") { return dir }
        let r = try run("/usr/bin/env", ["python3", "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
                                         "-d", dir, "setuptools>=61", "sympy==1.13.3", "mpmath==1.3.0", "networkx==3.4.2", "numpy==2.1.3"])
        try #require(r.status == 0, "pip download: \(r.output)")
        _ = FileManager.default.createFile(atPath: dir + "/.complete", contents: Data())
        return dir
    }

    static func pack(_ output: String, launcher: String = Tools.launcher, args: [String] = []) throws -> RunResult {
        try pythonPack(project: project, output: output,
                       args: ["--launcher-bin", launcher, "--find-links", try wheelhouse.get(), "--no-index"] + args)
    }

    /// The example packed once per test process with the launcher under test.
    static let packed: Result<String, Error> = Result {
        let out = PythonFixtures.cacheRoot + "/packed-\(getpid())/sciapp.psp"
        try pack(out)
        return out
    }

    static func workenv(_ home: String) -> String { home + "/.cache/flavor/workenv/sciapp" }
    static func site(_ home: String) -> String { workenv(home) + "/python/lib/python3.11/site-packages" }

    /// `flavor workenv info --json`'s lazy slots: id → present.
    static func lazyState(_ home: String) throws -> [String: Bool] {
        let r = try run(Tools.flavor, ["workenv", "info", "sciapp", "--json"], env: ["HOME": home])
        try #require(r.status == 0, "\(r.output)")
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        var out = [String: Bool]()
        for s in j["lazy_slots"] as? [[String: Any]] ?? [] { out[s["id"] as? String ?? ""] = s["present"] as? Bool }
        return out
    }

    /// `flavor inspect --json`'s slots.
    static func slots(_ pkg: String) throws -> [[String: Any]] {
        let r = try run(Tools.flavor, ["inspect", pkg, "--json"])
        try #require(r.status == 0, "\(r.output)")
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        return j["slots"] as? [[String: Any]] ?? []
    }
}

@Suite("Progressive Python: a launch extracts only what the app imports", .serialized)
struct ProgressivePythonTests {
    let heavy = ["sympy", "mpmath", "networkx", "numpy"]

    @Test("after a cold --help the heavy distributions are absent, their metadata is not, and inspect calls them lazy")
    func helpLeavesHeavySlotsAbsent() throws {
        let pkg = try ProgressiveFixtures.packed.get()
        let home = TempDir("prog-home")
        let help = try runBare(pkg, ["--help"], home: home.path)
        #expect(help.status == 0 && help.stdout.hasPrefix("usage: sciapp"), "\(help.output)")
        let site = ProgressiveFixtures.site(home.path)
        for d in heavy { #expect(!FileManager.default.fileExists(atPath: site + "/" + d), "\(d) extracted by --help") }
        let state = try ProgressiveFixtures.lazyState(home.path)
        for d in heavy { #expect(state["dist-" + d] == false, "\(d): \(state)") }
        // Every .dist-info is eager: importlib.metadata answers without extracting anything.
        let v = try runBare(pkg, ["python", "-c", "import importlib.metadata as m; print(m.version('sympy'), m.version('numpy'))"],
                            home: home.path, extra: ["FLAVOR_LAUNCHER_CLI": "1"])
        #expect(v.stdout == "1.13.3 2.1.3\n", "\(v.output)")
        #expect(!FileManager.default.fileExists(atPath: site + "/sympy"))
        let slots = try ProgressiveFixtures.slots(pkg)
        for d in heavy {
            let mine = slots.filter { ($0["id"] as? String ?? "").hasPrefix("dist-" + d) }
            #expect(!mine.isEmpty && mine.allSatisfy { $0["extraction"] as? String == "lazy" }, "\(d)")
        }
        #expect(slots.prefix(3).allSatisfy { $0["extraction"] as? String == "eager" })
    }

    @Test("a command extracts exactly the slots of what it imports, and works")
    func commandExtractsItsSlots() throws {
        let pkg = try ProgressiveFixtures.packed.get()
        let home = TempDir("prog-home")
        _ = try runBare(pkg, ["--help"], home: home.path)
        let solve = try runBare(pkg, ["solve", "x**2-4"], home: home.path)
        #expect(solve.status == 0 && solve.stdout == "roots: -2, 2\n", "\(solve.output)")
        var state = try ProgressiveFixtures.lazyState(home.path)
        #expect(state["dist-sympy"] == true && state["dist-mpmath"] == true, "\(state)")   // sympy imports mpmath
        #expect(state["dist-networkx"] == false && state["dist-numpy"] == false, "\(state)")
        let site = ProgressiveFixtures.site(home.path)
        #expect(!FileManager.default.fileExists(atPath: site + "/numpy") && !FileManager.default.fileExists(atPath: site + "/networkx"))
        let paths = try runBare(pkg, ["paths", "3"], home: home.path)
        #expect(paths.stdout == "shortest path corner to corner: 4\n", "\(paths.output)")
        state = try ProgressiveFixtures.lazyState(home.path)
        #expect(state["dist-networkx"] == true && state["dist-numpy"] == false, "\(state)")
        // A warm run with everything it needs present spawns no extraction.
        let again = try runBare(pkg, ["solve", "x**2-9"], home: home.path, extra: ["FLAVOR_LOG_LEVEL": "info"])
        #expect(again.stdout == "roots: -3, 3\n" && !again.stderr.contains("extracting"), "\(again.output)")
    }

    @Test("a lazy slot whose bytes were changed is refused: ImportError with the launcher's reason, nothing of it written")
    func tamperedLazySlot() throws {
        let dir = TempDir("prog-tamper")
        let pkg = dir.sub("sciapp.psp")
        try FileManager.default.copyItem(atPath: try ProgressiveFixtures.packed.get(), toPath: pkg)
        let numpy = try #require(try ProgressiveFixtures.slots(pkg).last { ($0["id"] as? String ?? "").hasPrefix("dist-numpy") })
        var bytes = try readBytes(pkg)
        let at = (numpy["offset"] as? Int ?? 0) + (numpy["size"] as? Int ?? 0) / 2
        bytes[at] ^= 0x40
        try writeBytes(pkg, bytes)
        chmod(pkg, 0o755)
        let home = TempDir("prog-home")
        let r = try runBare(pkg, ["stats", "1", "2"], home: home.path)
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains("ImportError: numpy is in lazy slot") && r.stderr.contains("the package is damaged or was modified"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ProgressiveFixtures.site(home.path) + "/numpy"))
        #expect(try ProgressiveFixtures.lazyState(home.path)["dist-numpy"] == false)
        // The rest of the package is intact and still runs.
        #expect(try runBare(pkg, ["solve", "x-1"], home: home.path).stdout == "roots: 1\n")
    }

    @Test("16 concurrent commands that import the same lazy distribution extract it once")
    func concurrentExtractOnce() throws {
        let pkg = try ProgressiveFixtures.packed.get()
        let home = TempDir("prog-home")
        _ = try runBare(pkg, ["--help"], home: home.path)
        let results = Locked([RunResult]())
        let homePath = home.path
        // One thread per launch: all 16 start together (a dispatch queue would run two at a time here).
        let group = DispatchGroup()
        for _ in 0..<16 {
            group.enter()
            Thread {
                if let r = try? runBare(pkg, ["paths", "4"], home: homePath, extra: ["FLAVOR_LOG_LEVEL": "info"]) {
                    results.update { $0.append(r) }
                }
                group.leave()
            }.start()
        }
        group.wait()
        let all = results.get()
        #expect(all.count == 16)
        for r in all { #expect(r.status == 0 && r.stdout == "shortest path corner to corner: 6\n", "\(r.output)") }
        let extractions = all.map { $0.stderr.components(separatedBy: "\n").filter { $0.contains("extracting lazy slot") && $0.contains("(dist-networkx") }.count }
        #expect(extractions.reduce(0, +) == 1, "\(all.map(\.stderr))")
        #expect(try ProgressiveFixtures.lazyState(home.path)["dist-networkx"] == true)
    }

    @Test("FLAVOR_EAGER=1 extracts every slot, on a cold start and on a workenv made without it")
    func eagerSwitch() throws {
        let pkg = try ProgressiveFixtures.packed.get()
        let cold = TempDir("prog-home")
        #expect(try runBare(pkg, ["--version"], home: cold.path, extra: ["FLAVOR_EAGER": "1"]).stdout == "sciapp 0.3.0\n")
        #expect(try ProgressiveFixtures.lazyState(cold.path).values.allSatisfy { $0 })
        let warm = TempDir("prog-home")
        _ = try runBare(pkg, ["--version"], home: warm.path)
        #expect(try ProgressiveFixtures.lazyState(warm.path).values.contains(false))
        _ = try runBare(pkg, ["--version"], home: warm.path, extra: ["FLAVOR_EAGER": "1"])
        let state = try ProgressiveFixtures.lazyState(warm.path)
        #expect(!state.isEmpty && state.values.allSatisfy { $0 }, "\(state)")
        for d in heavy { #expect(FileManager.default.fileExists(atPath: ProgressiveFixtures.site(warm.path) + "/" + d)) }
    }

    @Test("flavor pack --eager makes no lazy slot; the default build of the small example makes stdlib ones")
    func packEager() throws {
        let dir = TempDir("prog-eager")
        try pythonPack(project: PythonFixtures.example, output: dir.sub("eager.psp"), args: ["--eager"])
        // Everything eager but the attestation, which no launch extracts.
        #expect(try ProgressiveFixtures.slots(dir.sub("eager.psp")).allSatisfy { $0["extraction"] as? String == ($0["id"] as? String == "_attestation" ? "never" : "eager") })
        let lazy = try ProgressiveFixtures.slots(try PythonFixtures.packedExample.get()).filter { $0["extraction"] as? String == "lazy" }
        #expect(!lazy.isEmpty && lazy.allSatisfy { ($0["id"] as? String ?? "").hasPrefix("stdlib-") })
    }

    @Test("upstream 0.5.4 launchers run the package (they extract everything; the hook stays idle)",
          .enabled(if: Tools.interopEnabled), arguments: ["rs", "go"])
    func upstreamLaunchers(_ kind: String) throws {
        let dir = TempDir("prog-upstream")
        let pkg = dir.sub("sciapp-\(kind).psp")
        _ = try ProgressiveFixtures.pack(pkg, launcher: try Tools.upstream("flavor-\(kind)-launcher"))
        let home = TempDir("prog-home")
        for (args, expected) in [(["solve", "x**2-4"], "roots: -2, 2\n"), (["stats", "1", "2", "3"], "mean 2.000 std 0.816 n 3\n"),
                                 (["paths", "3"], "shortest path corner to corner: 4\n")] {
            let r = try runBare(pkg, args, home: home.path)
            #expect(r.status == 0 && r.stdout == expected, "\(kind) \(args): \(r.output)")
        }
    }

    @Test("in a minimal Debian root with no Python, a command extracts its lazy slot and runs", .enabled(if: PythonAppTests.chrootPossible))
    func noPythonRoot() throws {
        let made = try run(Tools.repoRoot + "/scripts/minbase-root", [])
        try #require(made.status == 0, "scripts/minbase-root: \(made.output)")
        let root = try #require(made.stdout.split(separator: "\n").last.map(String.init))
        let pkg = try ProgressiveFixtures.packed.get()
        let help = try run(Tools.repoRoot + "/scripts/minbase-run", [root, pkg, "--help"], env: ["MINBASE_FRESH": "1"])
        #expect(help.status == 0 && help.stdout.hasPrefix("usage: sciapp"), "\(help.output)")
        let solve = try run(Tools.repoRoot + "/scripts/minbase-run", [root, pkg, "solve", "x**2-4"])
        #expect(solve.status == 0 && solve.stdout == "roots: -2, 2\n", "\(solve.output)")
    }
}
