import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The python-app scenario: one Python project (default examples/pyapp) built and launched by us, by
/// PyInstaller `--onefile` and by upstream flavorpack 0.5.4's `flavor pack`, beside the floor (the same
/// entry point run from a plain venv), all in one run with every phase interleaved. Peers come from PyPI
/// through scripts/fetch-python-peers; a peer that cannot be set up is left out (or fails the run with
/// `--peers require`).
final class PythonAppBench {
    struct Options {
        var project: String
        var python: String
        var appArgs: [String]?
        var peers: Toolset.UpstreamMode
        var buildReps = 3
        var coldReps = 5
        var warmReps = 30
        var warmups = 1
        var buildWarmups = 1
        var warmWarmups = 3
        var freshCacheBuild = true
    }

    /// What the project declares, read with the build interpreter's tomllib.
    struct Project: Decodable {
        var name: String
        var version: String
        /// The console script PyInstaller names its binary after and the venv floor runs.
        var script: String?
        var module: String
        var function: String
    }

    struct Peers {
        var pyinstaller: String?
        var flavorpack: String?
        var flavorpackHome: String?
    }

    let opts: Options
    let tools: Toolset
    let repo: String
    let work: String
    let spawner: Spawner
    var project: Project!
    var peers = Peers()
    var checks = [String]()
    var notes = [String]()
    var otherCPU = [String: Double]()
    var sizes = [SizeEntry]()

    init(options: Options, tools: Toolset, repo: String, workRoot: String) throws {
        opts = options
        self.tools = tools
        self.repo = repo
        work = workRoot + "/python-app"
        try removeTree(work)
        for d in ["out", "tmp", "cold", "warm", "build"] { try makeDirs(work + "/" + d) }
        spawner = Spawner(scratchDir: work)
    }

    deinit { try? removeTree(work) }

    var out: String { work + "/out" }
    var src: String { work + "/src" }
    var venv: String { work + "/venv" }
    var input: String { work + "/input.txt" }
    var args: [String] { opts.appArgs ?? ["--top", "5", input] }

    /// Every measured command runs with these: bytecode may be written (so the venv floor and upstream's
    /// setup are at their best, and a launch of ours that wrote any would show), and PyInstaller unpacks
    /// into the work directory, the same file system as the launchers' caches.
    var runEnv: [String: String?] { ["PYTHONDONTWRITEBYTECODE": nil, "TMPDIR": work + "/tmp"] }

    func run() throws -> CorpusResult {
        let t0 = monotonicSeconds()
        try stage()
        var series = try buildPhase()
        try sizesOf()
        try checkOutputs()
        series += try coldPhase()
        series += try warmPhase()
        let files = (try? walkTree(src).files) ?? 0
        var result = CorpusResult(name: "python-app", origin: opts.project, digest: "\(project.name) \(project.version)",
                                  files: files, dirs: 0, bytes: sizes.first { $0.id == "venv" }?.bytes ?? 0,
                                  series: series, sizes: sizes, ratios: [], targets: [], checks: checks, otherCPU: otherCPU)
        result.ratios = PythonAppBench.ratios(result)
        result.targets = PythonAppBench.targets(result)
        progress(String(format: "python-app: done in %.0f s", monotonicSeconds() - t0))
        return result
    }

    // MARK: staging (untimed)

    /// A clean copy of the project (no build/, dist/, *.egg-info: pip builds a local project in place),
    /// the venv floor, the peers and PyInstaller's entry script.
    func stage() throws {
        progress("python-app: staging \(opts.project) in \(work)")
        try copyProject(to: src)
        project = try readProject()
        let readme = ["README.md", "README.rst", "README.txt", "pyproject.toml"].map { src + "/" + $0 }
            .first { FileManager.default.fileExists(atPath: $0) }!
        try checked(["cp", readme, input], what: "staging the input file")

        progress("python-app: making the venv floor (\(opts.python) -m venv, pip install the project)")
        try checked([opts.python, "-m", "venv", venv], what: "making the venv floor")
        try copyProject(to: work + "/proj-venv")
        try checked([venv + "/bin/pip", "install", "-q", "--disable-pip-version-check", work + "/proj-venv"], what: "pip install into the venv floor")
        // Bytecode for everything the floor imports, as pip writes for packages (PYTHONDONTWRITEBYTECODE
        // may be set in this environment).
        try checked([venv + "/bin/python", "-m", "compileall", "-q", venv + "/lib"], what: "byte-compiling the venv floor")
        sizes.append(SizeEntry(id: "venv", label: "venv floor site-packages (what the app installs)", bytes: try walkTree(venv + "/lib").bytes))

        try writeFile(work + "/pyinstaller_entry.py", "from \(project.module) import \(project.function)\nraise SystemExit(\(project.function)())\n")

        guard opts.peers != .off else { return }
        let script = repo + "/scripts/fetch-python-peers"
        progress("python-app: setting up PyInstaller and upstream flavorpack 0.5.4 (\(script))")
        let r = try capture([script, repo + "/.cache/python-peers"])
        if r.status != 0 {
            let why = (r.err.split(separator: "\n").last.map(String.init) ?? "exit \(r.status)")
            if opts.peers == .require { throw BenchError("the Python peers could not be set up: \(why)") }
            notes.append("PyInstaller and upstream flavorpack were not measured: \(why)")
            progress("warning: measuring without the Python peers: \(why)")
            return
        }
        for line in r.out.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            switch kv[0] {
            case "pyinstaller": peers.pyinstaller = kv[1]
            case "flavorpack": peers.flavorpack = kv[1]
            case "flavorpack_home": peers.flavorpackHome = kv[1]
            default: break
            }
        }
        if peers.pyinstaller != nil {
            // A prepared venv for the PyInstaller step alone (the pipeline variant makes its own each run).
            try checked([opts.python, "-m", "venv", work + "/venv-pi"], what: "making PyInstaller's app venv")
            try copyProject(to: work + "/proj-pi")
            try checked([work + "/venv-pi/bin/pip", "install", "-q", "--disable-pip-version-check", work + "/proj-pi"], what: "pip install for PyInstaller")
        }
    }

    func copyProject(to dest: String) throws {
        try removeTree(dest)
        try makeDirs(dest)
        try checked([tools.bash, "-c", "set -o pipefail; tar -C \"$0\" -cf - --exclude=./build --exclude='*.egg-info' --exclude=./dist . | tar -C \"$1\" -xf -",
                     opts.project, dest], what: "copying \(opts.project)")
    }

    func readProject() throws -> Project {
        let code = """
            import json, sys, tomllib
            d = tomllib.load(open(sys.argv[1], "rb"))
            p = d["project"]; scripts = p.get("scripts", {})
            ep = d.get("tool", {}).get("flavor", {}).get("entry_point") or next(iter(scripts.values()), None)
            name = next((k for k, v in scripts.items() if v == ep), None)
            if ep in scripts: name, ep = ep, scripts[ep]
            if not ep or ":" not in ep: sys.exit("no entry point: need [project.scripts] or [tool.flavor] entry_point = 'module:function'")
            m, f = ep.split(":", 1)
            print(json.dumps({"name": p["name"], "version": p.get("version", "0"), "script": name, "module": m.strip(), "function": f.strip()}))
            """
        let text = try checked([opts.python, "-c", code, src + "/pyproject.toml"], what: "reading \(opts.project)/pyproject.toml")
        do { return try JSONDecoder().decode(Project.self, from: Data(text.utf8)) }
        catch { throw BenchError("\(opts.project)/pyproject.toml: unexpected project summary '\(text.prefix(200))'") }
    }

    // MARK: commands

    var oursPackage: String { out + "/ours.psp" }
    var pyinstallerBinary: String { out + "/pyinstaller/" + (project.script ?? project.name) }
    var upstreamPackage: String { out + "/upstream.psp" }

    func oursBuild(cache: String, project dir: String) -> Command {
        Command([tools.flavor, "pack", "--project", dir, "--output", oursPackage, "--python", opts.python,
                 "--launcher-bin", tools.launcher, "--key-seed", "flavor-bench", "-q"],
                env: runEnv.merging(["FLAVOR_BUILD_CACHE": cache]) { $1 })
    }

    /// What a PyInstaller user runs from a project: a venv, pip install of the project, pyinstaller --onefile.
    func pyinstallerPipeline(_ pi: String, round r: Int) -> Command {
        let v = "\(work)/build/pi-venv-\(r)", p = "\(work)/build/pi-proj-\(r)"
        let sp = "\(v)/lib/python3.\(pythonMinor)/site-packages"
        return Command([tools.bash, "-c", """
            set -e; "$1" -m venv "$2"; "$2/bin/pip" install -q --disable-pip-version-check "$3"
            exec "$4" --onefile --name "$5" --paths "$6" --noconfirm --log-level ERROR --distpath "$7" --workpath "$8/work" --specpath "$8" "$9"
            """, "pyinstaller-pipeline", opts.python, v, p, pi, project.script ?? project.name, sp, out + "/pyinstaller",
            "\(work)/build/pi-\(r)", work + "/pyinstaller_entry.py"], env: runEnv)
    }

    func pyinstallerStep(_ pi: String, round r: Int) -> Command {
        Command([pi, "--onefile", "--name", project.script ?? project.name, "--paths", "\(work)/venv-pi/lib/python3.\(pythonMinor)/site-packages",
                 "--noconfirm", "--log-level", "ERROR", "--distpath", out + "/pyinstaller-step", "--workpath", "\(work)/build/pis-\(r)/work",
                 "--specpath", "\(work)/build/pis-\(r)", work + "/pyinstaller_entry.py"], env: runEnv)
    }

    func upstreamBuild(_ fp: String, home: String, round r: Int) -> Command {
        Command([tools.bash, "-c", "cd \"$1\" && exec \"$2\" pack --key-seed flavor-bench --output \"$3\"",
                 "upstream-pack", "\(work)/build/up-proj-\(r)", fp, upstreamPackage],
                env: runEnv.merging(["HOME": home]) { $1 })
    }

    lazy var pythonMinor: String = {
        (try? checked([opts.python, "-c", "import sys; print(sys.version_info[1])"], what: "python version"))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "11"
    }()

    func launch(_ id: String, cache: String?) -> Command {
        switch id {
        case "ours": return Command([oursPackage] + args, env: runEnv.merging(["FLAVOR_CACHE_DIR": cache]) { $1 })
        case "pyinstaller": return Command([pyinstallerBinary] + args, env: runEnv)
        case "upstream":
            // Its first launch runs `uv pip install`, which uses the caller's uv cache: a fresh one per cache.
            return Command([upstreamPackage] + args, env: runEnv.merging(["FLAVOR_CACHE_DIR": cache, "XDG_CACHE_HOME": cache.map { $0 + "/xdg" },
                                                                          "FLAVOR_LOG_LEVEL": "error"]) { $1 })
        default:
            if let s = project.script { return Command([venv + "/bin/" + s] + args, env: runEnv) }
            return Command([venv + "/bin/python", "-c", "import sys; from \(project.module) import \(project.function); sys.exit(\(project.function)())"] + args, env: runEnv)
        }
    }

    /// Peers whose packed app did not give the venv's output: left out of the launch phases.
    var failedPeers = Set<String>()

    var launchers: [(String, String)] {
        var l = [("ours", "flavor package (cold: empty cache)")]
        if peers.pyinstaller != nil { l.append(("pyinstaller", "PyInstaller --onefile (unpacks every run)")) }
        if peers.flavorpack != nil { l.append(("upstream", "upstream flavorpack 0.5.4 (first launch: extract + uv pip install)")) }
        l.append(("venv", "floor: the entry point from a plain venv"))
        return l.filter { !failedPeers.contains($0.0) }
    }

    // MARK: phases

    func buildPhase() throws -> [Series] {
        var v = [Variant]()
        let b = work + "/build"
        v.append(Variant(id: "ours", label: "flavor pack (runtime cache warm)", command: { r in
            self.oursBuild(cache: b + "/flavor-cache", project: "\(b)/ours-proj-\(r)")
        }, before: { r in try self.copyProject(to: "\(b)/ours-proj-\(r)"); unlink(self.oursPackage) },
           after: { r in try removeTree("\(b)/ours-proj-\(r)") }))
        if opts.freshCacheBuild {
            v.append(Variant(id: "ours_fresh", label: "flavor pack, first build on the machine (empty runtime cache)", command: { r in
                self.oursBuild(cache: "\(b)/flavor-cache-\(r)", project: "\(b)/oursf-proj-\(r)")
            }, before: { r in try self.copyProject(to: "\(b)/oursf-proj-\(r)"); unlink(self.oursPackage) },
               after: { r in try removeTree("\(b)/oursf-proj-\(r)"); try removeTree("\(b)/flavor-cache-\(r)") }))
        }
        if let pi = peers.pyinstaller {
            v.append(Variant(id: "pyinstaller", label: "PyInstaller: venv + pip install + pyinstaller --onefile", command: { r in
                self.pyinstallerPipeline(pi, round: r)
            }, before: { r in try self.copyProject(to: "\(b)/pi-proj-\(r)") },
               after: { r in for d in ["pi-venv-\(r)", "pi-proj-\(r)", "pi-\(r)"] { try removeTree("\(b)/\(d)") } }))
            v.append(Variant(id: "pyinstaller_step", label: "PyInstaller: pyinstaller --onefile alone (venv ready)", command: { r in
                self.pyinstallerStep(pi, round: r)
            }, after: { r in try removeTree("\(b)/pis-\(r)") }))
        }
        if let fp = peers.flavorpack, let home = peers.flavorpackHome {
            v.append(Variant(id: "upstream", label: "upstream flavorpack 0.5.4: flavor pack", command: { r in
                self.upstreamBuild(fp, home: home, round: r)
            }, before: { r in try self.copyProject(to: "\(b)/up-proj-\(r)"); unlink(self.upstreamPackage) },
               after: { r in try removeTree("\(b)/up-proj-\(r)") }))
        }
        let r = try PhaseRunner(name: "python-app", spawner: spawner, time: tools.time)
            .run("pack", v, warmups: opts.buildWarmups, reps: opts.buildReps, rssRuns: 0)
        otherCPU["pack"] = r.otherCPU
        return v.map { series("pack", $0, r) }
    }

    func sizesOf() throws {
        func add(_ id: String, _ label: String, _ path: String) throws {
            guard let n = fileSize(path) else { throw BenchError("\(path) missing after the build phase") }
            sizes.append(SizeEntry(id: id, label: label, bytes: n))
        }
        try add("ours", "flavor package", oursPackage)
        try add("launcher_ours", "flavor-launcher inside it", tools.launcher)
        if peers.pyinstaller != nil { try add("pyinstaller", "PyInstaller --onefile binary", pyinstallerBinary) }
        if peers.flavorpack != nil { try add("upstream", "upstream flavorpack 0.5.4 package", upstreamPackage) }
    }

    /// Each packed app must print what the venv floor prints, with the same exit status (untimed).
    func checkOutputs() throws {
        let floor = try outputOf(launch("venv", cache: nil), tag: "venv")
        for (id, _) in launchers where id != "venv" {
            let cache = "\(work)/check-\(id)"
            defer { try? removeTree(cache) }
            let got = try outputOf(launch(id, cache: cache), tag: id)
            if got == floor {
                checks.append("\(id): stdout and exit status equal the venv floor's (\(floor.1.count) bytes, status \(floor.0))")
            } else {
                let err = (try? String(contentsOfFile: "\(work)/err-\(id).txt", encoding: .utf8)) ?? ""
                let last = err.split(separator: "\n").last.map { ": " + $0.prefix(300) } ?? ""
                let msg = "\(id): output differs from the venv floor's (status \(got.0) vs \(floor.0), \(got.1.count) vs \(floor.1.count) bytes)\(last)"
                if id == "ours" { throw BenchError(msg) }
                failedPeers.insert(id)
                checks.append("WARNING " + msg)
                notes.append("\(id) was not launched: its packed app does not run like the venv's (see Checks)")
                progress("warning: " + msg + "; leaving it out of the launch phases")
            }
        }
    }

    func outputOf(_ cmd: Command, tag: String) throws -> (Int32, Data) {
        var c = cmd
        c.stdoutPath = "\(work)/out-\(tag).txt"
        let (status, _) = try spawner.spawnWait(c, stderrPath: "\(work)/err-\(tag).txt")
        return (status, FileManager.default.contents(atPath: c.stdoutPath) ?? Data())
    }

    func coldPhase() throws -> [Series] {
        let c = work + "/cold"
        let v = launchers.map { id, label in
            // Each run gets a new cache directory, and none is removed until the phase is over: ext4's
            // inode allocator skips inodes deleted in the last few seconds (recently_deleted(), which
            // perf showed taking half of a cold launch's time right after `rm -rf` of the previous
            // run's 730 files, or upstream's 3,800). A user's first launch follows no such deletion.
            // sync(2) first, so no run pays for the previous one's writeback.
            Variant(id: id, label: label, command: { r in self.launch(id, cache: "\(c)/\(id)-\(r)") },
                    before: { r in try makeDirs("\(c)/\(id)-\(r)"); sync() })
        }
        let r = try PhaseRunner(name: "python-app", spawner: spawner, time: tools.time)
            .run("cold", v, warmups: opts.warmups, reps: opts.coldReps, rssRuns: 1)
        otherCPU["cold"] = r.otherCPU
        try removeTree(c)
        try makeDirs(c)
        return v.map { series("cold", $0, r) }
    }

    func warmPhase() throws -> [Series] {
        let w = work + "/warm"
        var v = [Variant]()
        for (id, label) in launchers {
            let warmLabel = id == "ours" ? "flavor package (workenv present)"
                : id == "upstream" ? "upstream flavorpack 0.5.4 (workenv present)" : label
            // Two untimed launches fill the cache (upstream writes its bytecode on the second).
            for _ in 0..<2 { try spawner.measure(launch(id, cache: "\(w)/\(id)"), what: "\(id): filling the cache before the warm runs") }
            v.append(Variant(id: id, label: warmLabel, command: { _ in self.launch(id, cache: "\(w)/\(id)") }))
        }
        if let we = try? walkTree("\(w)/ours") { checks.append("ours: workenv of \(we.files) files, \(formatBytes(we.bytes))") }
        // The harness's tree digest (paths, kinds, modes, bytes) before and after the warm runs.
        func digest() -> String? { try? treeDigest("\(w)/ours", walkTree("\(w)/ours")) }
        let before = digest()
        let r = try PhaseRunner(name: "python-app", spawner: spawner, time: tools.time)
            .run("warm", v, warmups: opts.warmWarmups, reps: opts.warmReps, rssRuns: 1)
        otherCPU["warm"] = r.otherCPU
        if let before, let after = digest() {
            checks.append(before == after ? "ours: warm launches wrote nothing into the cache"
                                          : "WARNING ours: warm launches changed the cache (tree digest \(before.prefix(20))… → \(after.prefix(20))…)")
        }
        return v.map { series("warm", $0, r) }
    }

    func series(_ phase: String, _ v: Variant, _ r: PhaseRunner.Result) -> Series { Series(phase, v, r) }

    // MARK: ratios and targets

    static let timeRatios: [(String, String, String, String)] = [
        ("pack/ours÷pyinstaller", "build: ours ÷ PyInstaller (venv + pip install + pyinstaller)", "pack/ours", "pack/pyinstaller"),
        ("pack/ours÷pyinstaller_step", "build: ours ÷ the pyinstaller step alone", "pack/ours", "pack/pyinstaller_step"),
        ("pack/ours_fresh÷pyinstaller", "build with an empty runtime cache: ours ÷ PyInstaller", "pack/ours_fresh", "pack/pyinstaller"),
        ("pack/ours÷upstream", "build: ours ÷ upstream flavor pack", "pack/ours", "pack/upstream"),
        ("cold/ours÷pyinstaller", "cold launch: ours ÷ PyInstaller's (every) run", "cold/ours", "cold/pyinstaller"),
        ("cold/ours÷upstream", "cold launch: ours ÷ upstream's first launch", "cold/ours", "cold/upstream"),
        ("cold/ours÷venv", "cold launch: ours ÷ the venv floor", "cold/ours", "cold/venv"),
        ("warm/ours÷venv", "warm launch p50: ours ÷ the venv floor", "warm/ours", "warm/venv"),
        ("warm/ours÷pyinstaller", "warm launch p50: ours ÷ PyInstaller's run", "warm/ours", "warm/pyinstaller"),
        ("warm/ours÷upstream", "warm launch p50: ours ÷ upstream's warm launch", "warm/ours", "warm/upstream"),
    ]

    static func ratios(_ r: CorpusResult) -> [Ratio] {
        Ratios.medians(r, timeRatios) + Ratios.sizes(r, [("size/ours÷pyinstaller", "size: our package ÷ PyInstaller's binary", "ours", "pyinstaller"),
                                                         ("size/ours÷upstream", "size: our package ÷ upstream's package", "ours", "upstream")])
    }

    /// The targets of issue 10, on this run's numbers.
    static func targets(_ r: CorpusResult) -> [Target] {
        var t = [Target]()
        if let w = r.series("warm/ours"), let f = r.series("warm/venv") {
            let over = (w.wall.median - f.wall.median) * 1000
            t.append(Target(id: "warm_over_venv", label: "warm launch p50 over the venv floor", measured: String(format: "%+.2f ms", over),
                            goal: "≤ +1 ms", met: over <= 1.0))
            // Runs of one round are taken back to back, so their difference cancels the host's drift,
            // which spreads a Python start over tens of ms here.
            let paired = zip(w.samples, f.samples).map { $0.wall - $1.wall }
            if !paired.isEmpty {
                t.append(Target(id: "warm_over_venv_paired", label: "the same, median of the differences within a round (shown)",
                                measured: String(format: "%+.2f ms (%d rounds)", Stats(paired).median * 1000, paired.count), goal: "–", met: true))
            }
        }
        func faster(_ id: String, _ label: String, _ ratio: String, atLeast: Double, goal: String) {
            guard let v = r.ratio(ratio)?.value else { return }
            t.append(Target(id: id, label: label, measured: String(format: "%.1f× faster (ours ÷ it %.3f)", 1 / v, v), goal: goal, met: 1 / v >= atLeast))
        }
        faster("warm_vs_pyinstaller", "warm launch vs PyInstaller's run", "warm/ours÷pyinstaller", atLeast: 10, goal: "≥ 10× faster")
        // What any launcher that runs the app could reach: the app's own start, without a launcher.
        if let f = r.series("warm/venv")?.wall.median, let p = r.series("warm/pyinstaller")?.wall.median, f > 0 {
            t.append(Target(id: "venv_vs_pyinstaller", label: "of which the bound: the venv floor vs PyInstaller's run (shown)",
                            measured: String(format: "%.1f× faster", p / f), goal: "–", met: true))
        }
        if let v = r.ratio("cold/ours÷pyinstaller")?.value {
            t.append(Target(id: "cold_vs_pyinstaller", label: "cold launch vs PyInstaller's run", measured: String(format: "ours ÷ it %.3f", v),
                            goal: "faster (< 1)", met: v < 1))
        }
        faster("cold_vs_upstream", "cold launch vs upstream's first launch", "cold/ours÷upstream", atLeast: 5, goal: "≥ 5× faster")
        if let v = r.ratio("pack/ours÷pyinstaller")?.value {
            t.append(Target(id: "build_vs_pyinstaller", label: "build time vs PyInstaller (from the project)", measured: String(format: "ours ÷ it %.3f", v),
                            goal: "≤ 1", met: v <= 1))
        }
        if let v = r.ratio("size/ours÷pyinstaller")?.value {
            t.append(Target(id: "size_vs_pyinstaller", label: "package size vs PyInstaller's", measured: String(format: "%.3f×", v),
                            goal: "≤ 1.25×", met: v <= 1.25))
        }
        return t
    }

    // MARK: report

    static func markdown(_ r: Report, jsonName: String) -> String {
        guard let c = r.corpora.first else { return "# flavor-bench python-app: no result\n" }
        var s = "# flavor-bench python-app, \(r.started.prefix(10)), commit \(r.commit)\(r.dirty ? " (with uncommitted changes)" : "")\n\n"
        let m = r.machine
        s += "- App: \(c.digest) from `\(c.origin)`. Machine: \(m.nproc) × \(m.cpuModel), kernel \(m.kernel), \(m.os); "
        s += "work directory (caches, PyInstaller's TMPDIR) on **\(r.workFilesystem)**; load average \(m.loadAverageStart) at start, \(m.loadAverageEnd) at the end.\n"
        s += "- Command: `\(r.command)`; \(String(format: "%.1f", r.durationSeconds / 60)) minutes. Every sample: [`\(jsonName)`](\(jsonName)). Method: docs/PERFORMANCE.md (python-app).\n"
        let st = r.settings
        s += "- Repetitions after \(st.warmups) warm-up round: build \(st.packReps), cold \(st.coldReps); warm \(st.warmReps) after \(st.warmWarmups). Commands of a phase are interleaved run by run. Every command runs with `PYTHONDONTWRITEBYTECODE` unset and `TMPDIR` in the work directory.\n"
        for n in r.notes { s += "- \(n)\n" }
        if !c.targets.isEmpty {
            s += "\n## Targets (issue 10)\n\n| target | goal | measured | met |\n|---|---|---:|:---:|\n"
            for t in c.targets { s += "| \(t.label) | \(t.goal) | \(t.measured) | \(t.met ? "yes" : "**no**") |\n" }
        }
        for (phase, title) in [("pack", "Build (project → one file)"), ("cold", "Cold launch (first run on a machine: empty cache)"),
                               ("warm", "Warm launch (every later run)")] {
            let list = c.series.filter { $0.phase == phase }
            guard !list.isEmpty else { continue }
            s += "\n## \(title)\n\n| command | n | median | p95 | min – max | peak RSS | ours ÷ this |\n|---|---:|---:|---:|---:|---:|---:|\n"
            let ours = c.series("\(phase)/ours")
            for x in list {
                let ratio = ours.map { x.id == $0.id ? "–" : String(format: "%.3f", $0.wall.median / max(x.wall.median, 1e-9)) } ?? "–"
                s += "| \(x.label) | \(x.wall.n) | \(formatSeconds(x.wall.median)) | \(formatSeconds(x.wall.p95)) | \(formatSeconds(x.wall.min)) – \(formatSeconds(x.wall.max)) | \(Markdown.mib(x.rssKiB?.median)) | \(ratio) |\n"
            }
        }
        s += "\n## Sizes\n\n| what | bytes |\n|---|---:|\n"
        for z in c.sizes { s += "| \(z.label) | \(z.bytes) (\(formatBytes(z.bytes))) |\n" }
        if !c.ratios.isEmpty {
            s += "\n## Ratios in this run (ours ÷ other, medians; < 1 = ours faster or smaller)\n\n"
            for x in c.ratios { s += "- \(x.label): **\(String(format: "%.3f", x.value))**\n" }
        }
        if let o = c.otherCPU, !o.isEmpty {
            s += "\nOther processes' CPU while each phase ran (share of one core): "
                + ["pack", "cold", "warm"].compactMap { k in o[k].map { String(format: "%@ %.0f%%", k, $0 * 100) } }.joined(separator: ", ") + ".\n"
        }
        if !c.checks.isEmpty { s += "\nChecks: " + c.checks.joined(separator: "; ") + ".\n" }
        s += "\nCommands:\n\n" + c.series.map { "- `\($0.id)`: `\($0.command)`" }.joined(separator: "\n") + "\n"
        return s
    }
}

extension Series {
    /// One command of a scenario phase (no byte or file throughput: these are launches).
    init(_ phase: String, _ v: Variant, _ r: PhaseRunner.Result) {
        self.init(id: "\(phase)/\(v.id)", phase: phase, label: v.label, command: v.command(0).display,
                  samples: r.samples[v.id]!, rss: r.rss[v.id]!, bytes: nil, files: nil)
    }
}
