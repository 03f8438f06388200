import Foundation
#if canImport(Glibc)
import Glibc
#endif

let usage = """
    flavor-bench: Flavor's benchmark harness (docs/PERFORMANCE.md)

    USAGE
      flavor-bench run  [--profile full|quick] [--corpus NAME]… [--dir [NAME=]PATH]… [common options]
                        [--out-dir DIR] [--name BASENAME] [--upstream auto|off|require] [--upstream-bin DIR]
                        [--no-pigz] [--no-io-backends]
      flavor-bench gate [--baseline FILE] [--report-only] [--write-baseline] [--no-confirm]
                        [--corpus NAME]… [--dir [NAME=]PATH]… [--report FILE] [common options]
      flavor-bench gate --from-report FILE [--baseline FILE] [--report-only] [--write-baseline]
      flavor-bench python-app [--project DIR] [--python PYTHON] [--args "ARG…"] [--peers auto|off|require]
                        [--build-reps N] [--build-warmups N] [--reps N] [--warm-reps N] [--warmups N] [--no-fresh-cache]
                        [--flavor-bin DIR] [--work-dir DIR] [--out-dir DIR] [--name BASENAME] [--repo DIR]
      flavor-bench python-lazy [--project DIR] [--python PYTHON] [--find-links DIR] [--args "ARG…"]
                        [--reps N] [--warm-reps N] [--warmups N] [--flavor-bin DIR] [--work-dir DIR] [--out-dir DIR] [--name BASENAME]
      flavor-bench corpus list | make NAME… | digest DIR
      flavor-bench report PATH.json                                 (re-render .md and .svg from the samples)
      flavor-bench copy-floor --list FILE [--threads N] SRC DST     (the write floor; used by run)
      flavor-bench sha256 FILE…

    COMMON OPTIONS
      --flavor-bin DIR   where flavor and flavor-launcher are (default: .build/release)
      --repo DIR         the checkout holding corpora/ and perf-reports/ (default: found from the
                         current directory, then from this executable)
      --work-dir DIR     scratch space for staged corpora, packages and caches (default: a new
                         directory in /dev/shm when it is tmpfs with room, else in $TMPDIR)
      --reps N           runs of pack, unpack and cold launch (after the warm-up)
      --warm-reps N      warm-launch runs (≥ 50 by default)
      --warmups N        untimed warm-up rounds per phase (default 1)
      --no-verify        do not check extracted trees against the corpus digest

    run: measures every corpus of the profile (full: tiny, site-packages, many-small, big-blob;
    quick: tiny, small-mixed) beside upstream 0.5.4, tar, gzip, pigz and the in-run floors, and writes
    perf-reports/<date>-<commit>.{json,md,svg}.
    gate: the quick profile compared with a stored baseline by in-run ratios; exit 1 when a ratio
    exceeds its threshold (unless --report-only), 2 on errors. --write-baseline stores a new baseline.
    --from-report judges the samples of a stored report instead of measuring (the gate's own tests).
    Measured commands inherit this process's environment (so FLAVOR_GZIP_LEVEL=12 slows our pack).
    python-app: a Python project (default examples/pyapp) built and launched by flavor pack, PyInstaller
    --onefile and upstream flavorpack 0.5.4 (both from PyPI via scripts/fetch-python-peers), beside the same
    entry point in a plain venv; build time, size, cold and warm launch in one interleaved run, checked
    against the issue-10 targets; writes perf-reports/<date>-<commit>-python-app.{json,md}. The work
    directory defaults to $TMPDIR (a disk, where users' caches are), not /dev/shm.
    python-lazy: progressive extraction (default examples/sciapp: sympy, networkx, numpy; its --help
    imports none of them): cold start of the progressive package, of the same package with FLAVOR_EAGER=1,
    and the cold start plus an ensure of every lazy slot; warm start of it, of an --eager build and of the
    venv floor; checked against the issue-12 targets; writes perf-reports/<date>-<commit>-python-lazy.{json,md}.
    """

func runMain(_ argv: [String]) -> Int32 {
    guard let cmd = argv.first else { print(usage); return Exit.error }
    // A closed stdout (`flavor-bench run | head`) must not kill the run before it cleans its work
    // directory; measured commands still start with default dispositions (POSIX_SPAWN_SETSIGDEF).
    signal(SIGPIPE, SIG_IGN)
    let rest = Array(argv.dropFirst())
    do {
        switch cmd {
        case "run": return try RunCommand.main(rest, gate: false)
        case "gate": return try RunCommand.main(rest, gate: true)
        case "corpus": return try corpusCommand(rest)
        case "python-app": return try pythonAppCommand(rest)
        case "python-lazy": return try pythonLazyCommand(rest)
        case "report":
            // Re-renders a report's markdown and SVG (and its derived ratios and targets) from its samples.
            guard rest.count == 1, rest[0].hasSuffix(".json") else { throw BenchError("usage: flavor-bench report PATH.json") }
            var r = try Report.read(rest[0])
            let python = r.kind == "python-app", lazy = r.kind == "python-lazy"
            for i in r.corpora.indices {
                r.corpora[i].ratios = lazy ? PythonLazyBench.ratios(r.corpora[i]) : python ? PythonAppBench.ratios(r.corpora[i]) : Ratios.compute(r.corpora[i])
                r.corpora[i].targets = lazy ? PythonLazyBench.targets(r.corpora[i]) : python ? PythonAppBench.targets(r.corpora[i]) : Targets.evaluate(r.corpora[i], cores: r.machine.nproc)
            }
            try r.write(json: rest[0])
            let base = String(rest[0].dropLast(5)), name = (base as NSString).lastPathComponent
            if lazy {
                try writeFile(base + ".md", PythonLazyBench.markdown(r, jsonName: name + ".json"))
                print("wrote \(base).md")
            } else if python {
                try writeFile(base + ".md", PythonAppBench.markdown(r, jsonName: name + ".json"))
                print("wrote \(base).md")
            } else {
                try writeFile(base + ".svg", SVGChart.render(r))
                try writeFile(base + ".md", Markdown.render(r, jsonName: name + ".json", svgName: name + ".svg"))
                print("wrote \(base).md, \(base).svg")
            }
            return Exit.ok
        case "copy-floor":
            let a = try Args(rest, valued: ["list", "threads"], flags: [])
            guard let list = a.value("list"), a.positionals.count == 2 else {
                throw BenchError("usage: flavor-bench copy-floor --list FILE [--threads N] SRC DST")
            }
            try CopyFloor.run(list: list, src: a.positionals[0], dst: a.positionals[1], threads: try a.int("threads", min: 1) ?? 2)
            return Exit.ok
        case "sha256":
            for f in rest {
                var sha = SHA256()
                let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
                defer { buf.deallocate() }
                _ = try hashFile(f, into: &sha, buffer: buf)
                print("\(sha.hexDigest())  \(f)")
            }
            return Exit.ok
        case "help", "--help", "-h":
            print(usage)
            return Exit.ok
        default:
            throw BenchError("unknown command '\(cmd)' (run, gate, python-app, corpus, report, copy-floor, sha256, help)")
        }
    } catch {
        warn("flavor-bench: error: \(error)")
        return Exit.error
    }
}

/// Finds the checkout: --repo, else upwards from the current directory, else from this executable.
func repoRoot(_ explicit: String?) throws -> String {
    if let e = explicit {
        guard FileManager.default.fileExists(atPath: e + "/corpora") else { throw BenchError("--repo \(e): no corpora/ directory there") }
        return URL(fileURLWithPath: e).standardizedFileURL.path
    }
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    for start in [FileManager.default.currentDirectoryPath, (exe as NSString).deletingLastPathComponent] {
        var dir = URL(fileURLWithPath: start).standardizedFileURL
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.path + "/corpora") && FileManager.default.fileExists(atPath: dir.path + "/Package.swift") {
                return dir.path
            }
            dir = dir.deletingLastPathComponent()
        }
    }
    throw BenchError("cannot find the Flavor checkout (a directory with corpora/ and Package.swift): run from inside it or pass --repo DIR")
}

func corpusCommand(_ argv: [String]) throws -> Int32 {
    let a = try Args(argv, valued: ["repo"], flags: [])
    guard let sub = a.positionals.first else { throw BenchError("usage: flavor-bench corpus list | make NAME… | digest DIR") }
    switch sub {
    case "list":
        let store = CorpusStore(dir: try repoRoot(a.value("repo")) + "/corpora")
        for n in store.available() {
            let (def, _) = try CorpusDefinition.load(store.definitionPath(n))
            let stamp = try? Stamp.read(store.cacheDir + "/\(n).digest.json")
            let state = stamp.map { "cached: \($0.files) files, \(formatBytes($0.bytes))" } ?? "not materialised"
            print("\(n.padding(toLength: 14, withPad: " ", startingAt: 0)) \(state.padding(toLength: 36, withPad: " ", startingAt: 0)) \(def.description ?? "")")
        }
    case "make":
        let store = CorpusStore(dir: try repoRoot(a.value("repo")) + "/corpora")
        for n in a.positionals.dropFirst() {
            let c = try store.corpus(named: n)
            print("\(c.name): \(c.summary.files) files, \(c.summary.dirs) dirs, \(c.summary.bytes) bytes (\(formatBytes(c.summary.bytes))), \(c.digest)  \(c.root)")
        }
    case "digest":
        guard a.positionals.count == 2 else { throw BenchError("usage: flavor-bench corpus digest DIR") }
        let d = a.positionals[1]
        let s = try walkTree(d)
        print("\(try treeDigest(d, s))  files=\(s.files) dirs=\(s.dirs) bytes=\(s.bytes)  content=\(try treeDigest(d, s, modes: false))")
    default:
        throw BenchError("unknown corpus command '\(sub)' (list, make, digest)")
    }
    return Exit.ok
}

func pythonAppCommand(_ argv: [String]) throws -> Int32 {
    let started = Date()
    let loadStart = loadAverage()
    let a = try Args(argv, valued: ["project", "python", "args", "peers", "build-reps", "build-warmups", "reps", "warm-reps", "warmups",
                                    "flavor-bin", "work-dir", "out-dir", "name", "repo"], flags: ["no-fresh-cache"])
    guard a.positionals.isEmpty else { throw BenchError("unexpected argument '\(a.positionals[0])' (see flavor-bench help)") }
    let repo = try repoRoot(a.value("repo"))
    let project = URL(fileURLWithPath: a.value("project") ?? repo + "/examples/pyapp").standardizedFileURL.path
    guard FileManager.default.fileExists(atPath: project + "/pyproject.toml") else { throw BenchError("\(project): no pyproject.toml there") }
    let py = try pythonOnPath(a)
    // The real interpreter (a pyenv shim would start a shell script per call).
    let python = try checked([py, "-c", "import sys; print(sys.executable)"], what: "\(py)").trimmingCharacters(in: .whitespacesAndNewlines)
    var o = PythonAppBench.Options(project: project, python: python, peers: try Toolset.UpstreamMode(rawValue: a.value("peers") ?? "auto")
        .orThrow("--peers: expected auto, off or require"))
    if let s = a.value("args") { o.appArgs = s.split(separator: " ").map(String.init) }
    if let n = try a.int("build-reps", min: 1) { o.buildReps = n }
    if let n = try a.int("reps", min: 1) { o.coldReps = n }
    if let n = try a.int("warm-reps", min: 1) { o.warmReps = n }
    if let n = try a.int("warmups") { o.warmups = n; o.buildWarmups = n; o.warmWarmups = max(n, 1) }
    if let n = try a.int("build-warmups") { o.buildWarmups = n }
    o.freshCacheBuild = !a.flag("no-fresh-cache")
    let (commit, dirty) = gitState(repo)
    let flavorBin = a.value("flavor-bin") ?? repo + "/.build/release"
    let tools = try Toolset.resolve(flavorBin: flavorBin, upstreamBin: nil, upstream: .off, pigz: false)

    var notes = busyNotes()
    let workRoot = try scenarioWorkRoot(a)
    defer { try? removeTree(workRoot) }
    let fs = filesystemType(workRoot)

    let bench = try PythonAppBench(options: o, tools: tools, repo: repo, workRoot: workRoot)
    let result = try bench.run()
    notes += bench.notes
    notes += disturbedNotes(result)
    let machine = Machine.current(loadAverageStart: loadStart)
    var toolList = scenarioTools(tools)
    if let p = bench.peers.pyinstaller { toolList.append(Tool(name: "pyinstaller", path: p, version: Versions.of([p, "--version"]))) }
    if let p = bench.peers.flavorpack { toolList.append(Tool(name: "flavorpack", path: p, version: Versions.of([p, "--version"]))) }
    toolList.append(Tool(name: "build python", path: python, version: Versions.of([python, "--version"])))
    let settings = Settings(packReps: o.buildReps, unpackReps: 0, coldReps: o.coldReps, warmReps: o.warmReps, warmups: o.warmups,
                            warmWarmups: o.warmWarmups, copyFloorThreads: 0, pigzThreads: 0, upstream: bench.peers.flavorpack != nil, ioBackends: false)
    var report = Report(kind: "python-app", profile: "python-app", started: isoString(started), durationSeconds: Date().timeIntervalSince(started),
                        commit: commit, dirty: dirty, command: (["flavor-bench", "python-app"] + argv).map(shellQuote).joined(separator: " "),
                        machine: machine, tools: toolList, environment: [:], workDir: workRoot, workFilesystem: fs, settings: settings,
                        corpora: [result], notes: notes)
    report.durationSeconds = Date().timeIntervalSince(started)
    try writeScenarioReport(report, a: a, repo: repo, markdown: PythonAppBench.markdown)
    return Exit.ok
}

enum RunCommand {
    static let valued: Set<String> = ["profile", "corpus", "dir", "flavor-bin", "upstream-bin", "upstream", "work-dir", "out-dir",
                                      "name", "reps", "warm-reps", "warmups", "repo", "baseline", "report", "from-report"]
    static let flags: Set<String> = ["no-pigz", "no-io-backends", "no-verify", "report-only", "write-baseline", "no-confirm"]

    static func main(_ argv: [String], gate: Bool) throws -> Int32 {
        let started = Date()
        let loadStart = loadAverage()
        let a = try Args(argv, valued: valued, flags: flags)
        guard a.positionals.isEmpty else { throw BenchError("unexpected argument '\(a.positionals[0])' (see flavor-bench help)") }
        let profileName = gate ? "quick" : (a.value("profile") ?? "full")
        if gate, let p = a.value("profile"), p != "quick" { throw BenchError("gate always runs the quick profile (got --profile \(p))") }
        if gate, let path = a.value("from-report") { return try judgeRecorded(path, args: a) }
        var plan = try Plan.profile(profileName)
        let overridden = a.value("reps") != nil
        if let n = try a.int("reps", min: 1) { plan.packReps = n; plan.unpackReps = n; plan.coldReps = n }
        if let n = try a.int("warm-reps", min: 1) { plan.warmReps = n }
        if let n = try a.int("warmups") { plan.warmups = n; if n == 0 { plan.warmWarmups = 0 } }
        if a.flag("no-io-backends") { plan.ioBackends = false }
        if a.flag("no-verify") { plan.verify = false }

        let needsRepo = a.values("dir").isEmpty || !a.values("corpus").isEmpty || a.value("out-dir") == nil
            || (gate && a.value("baseline") == nil)
        let repo: String? = needsRepo ? try repoRoot(a.value("repo")) : (try? repoRoot(a.value("repo")))
        // The checkout's state when measuring starts (a commit made during the run does not count).
        let (commit, dirty) = repo.map(gitState) ?? ("nogit", false)
        let flavorBin = a.value("flavor-bin") ?? (repo.map { $0 + "/.build/release" } ?? ".build/release")
        let upstreamMode = try Toolset.UpstreamMode(rawValue: a.value("upstream") ?? (gate || profileName == "quick" ? "off" : "auto"))
            .orThrow("--upstream: expected auto, off or require")
        let tools = try Toolset.resolve(flavorBin: flavorBin, upstreamBin: a.value("upstream-bin") ?? repo.map { $0 + "/upstream/bin" },
                                        upstream: upstreamMode, pigz: !a.flag("no-pigz"))

        // Gate: read the baseline first, so that a missing one fails before minutes of measuring.
        let baselinePath = a.value("baseline") ?? (repo ?? ".") + "/perf-reports/baseline-quick.json"
        let baseline: Baseline? = gate && !a.flag("write-baseline") ? try Baseline.read(baselinePath) : nil

        var notes = [String]()
        let busy = busyProcesses()
        if !busy.isEmpty {
            let n = "other heavy processes were running at the start: \(busy.joined(separator: ", ")) (figures are noisier)"
            notes.append(n)
            progress("warning: " + n)
        }

        // Corpora: materialised (or found in the cache) before anything is timed.
        var corpora = [Corpus]()
        let names = a.values("corpus")
        let dirs = a.values("dir")
        let defaults = profileName == "full" ? ["tiny", "site-packages", "many-small", "big-blob"] : ["tiny", "small-mixed"]
        let store = repo.map { CorpusStore(dir: $0 + "/corpora") }
        for n in (names.isEmpty && dirs.isEmpty ? defaults : names) {
            guard let store else { throw BenchError("corpus \(n): no checkout found (pass --repo DIR)") }
            corpora.append(try store.corpus(named: n))
        }
        for d in dirs {
            let (name, path) = d.contains("=") ? (String(d.split(separator: "=", maxSplits: 1)[0]), String(d.split(separator: "=", maxSplits: 1)[1]))
                                               : ((URL(fileURLWithPath: d).standardizedFileURL.lastPathComponent), d)
            guard !name.isEmpty, !name.contains("/") else { throw BenchError("--dir \(d): bad corpus name") }
            corpora.append(try CorpusStore(dir: "").adHoc(name: name, dir: path, origin: "--dir \(path)"))
        }
        guard Set(corpora.map(\.name)).count == corpora.count else { throw BenchError("two corpora have the same name: use --dir NAME=PATH") }

        let maxBytes = corpora.map(\.summary.bytes).max() ?? 0
        let workBase = try workDirectory(a.value("work-dir"), needBytes: maxBytes * 7)
        let workRoot = workBase + "/flavor-bench-\(getpid())"
        try makeDirs(workRoot)
        defer { try? removeTree(workRoot) }
        let fs = filesystemType(workRoot)
        if fs != "tmpfs" { notes.append("work directory \(workRoot) is on \(fs), not tmpfs: disk speed is part of every figure") }

        var results = [CorpusResult]()
        var envNote = [String: String]()
        for (k, v) in ProcessInfo.processInfo.environment where k.hasPrefix("FLAVOR_") && !k.hasPrefix("FLAVOR_BENCH_") { envNote[k] = v }
        if !envNote.isEmpty { progress("measured commands inherit " + envNote.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) }

        for c in corpora {
            let p = plan.scaled(forBytes: c.summary.bytes, overridden: overridden)
            let bench = try CorpusBench(corpus: c, tools: tools, plan: p, workRoot: workRoot)
            results.append(try bench.run())
        }

        for c in results {
            for (phase, share) in (c.otherCPU ?? [:]).sorted(by: { $0.key < $1.key }) where share > 0.1 {
                notes.append(String(format: "%@ %@: other processes used %.0f%% of a core while it ran (disturbed)", c.name, phase, share * 100))
            }
        }
        var machine = Machine.current()
        machine.loadAverageStart = loadStart
        machine.loadAverageEnd = loadAverage()
        let settings = Settings(packReps: plan.packReps, unpackReps: plan.unpackReps, coldReps: plan.coldReps, warmReps: plan.warmReps,
                                warmups: plan.warmups, warmWarmups: plan.warmWarmups, copyFloorThreads: plan.copyThreads,
                                pigzThreads: plan.pigzThreads, upstream: tools.upstream, ioBackends: plan.ioBackends)
        var report = Report(kind: gate ? "gate" : "run", profile: profileName, started: isoString(started),
                            durationSeconds: Date().timeIntervalSince(started), commit: commit, dirty: dirty,
                            command: (["flavor-bench"] + (gate ? ["gate"] : ["run"]) + argv).map(shellQuote).joined(separator: " "),
                            machine: machine, tools: Versions.tools(tools), environment: envNote, workDir: workRoot,
                            workFilesystem: fs, settings: settings, corpora: results, notes: notes)

        if gate {
            return try Gate.finish(report: &report, args: a, baselinePath: baselinePath, baseline: baseline,
                                   remeasure: { name in
                                       let c = corpora.first { $0.name == name }!
                                       let p = plan.scaled(forBytes: c.summary.bytes, overridden: overridden)
                                       return try CorpusBench(corpus: c, tools: tools, plan: p, workRoot: workRoot).run()
                                   })
        }

        // Reports: <out>/<date>-<commit>.{json,md,svg}
        let outDir = a.value("out-dir") ?? repo! + "/perf-reports"
        try makeDirs(outDir)
        let base = a.value("name") ?? "\(report.started.prefix(10))-\(commit)"
        report.durationSeconds = Date().timeIntervalSince(started)
        try report.write(json: outDir + "/\(base).json")
        let svg = SVGChart.render(report)
        try writeFile(outDir + "/\(base).svg", svg)
        let md = Markdown.render(report, jsonName: "\(base).json", svgName: "\(base).svg")
        try writeFile(outDir + "/\(base).md", md)
        print(md.components(separatedBy: "\n## ").prefix(3).joined(separator: "\n## "))
        print("\nwrote \(outDir)/\(base).json, .md, .svg")
        return Exit.ok
    }

    /// `gate --from-report FILE`: the verdict on samples recorded earlier (a report of `run` or of
    /// `gate --report`), without measuring. Statistics and ratios are computed again from the samples,
    /// so a report whose samples were changed is judged on what they now say; no confirming second
    /// measurement is possible.
    static func judgeRecorded(_ path: String, args a: Args) throws -> Int32 {
        var report = try Report.read(path)
        for i in report.corpora.indices {
            for k in report.corpora[i].series.indices {
                report.corpora[i].series[k].wall = Stats(report.corpora[i].series[k].samples.map(\.wall))
            }
            report.corpora[i].ratios = Ratios.compute(report.corpora[i])
        }
        let repo = try? repoRoot(a.value("repo"))
        let baselinePath = a.value("baseline") ?? (repo ?? ".") + "/perf-reports/baseline-quick.json"
        let baseline: Baseline? = a.flag("write-baseline") ? nil : try Baseline.read(baselinePath)
        return try Gate.finish(report: &report, args: a, baselinePath: baselinePath, baseline: baseline,
                               remeasure: { _ in throw BenchError("--from-report: nothing to measure again") })
    }

    /// The scratch directory: --work-dir, else /dev/shm when it is tmpfs with room, else $TMPDIR.
    static func workDirectory(_ explicit: String?, needBytes: Int64) throws -> String {
        if let e = explicit {
            try makeDirs(e)
            return URL(fileURLWithPath: e).standardizedFileURL.path
        }
        var s = statvfs()
        if filesystemType("/dev/shm") == "tmpfs", statvfs("/dev/shm", &s) == 0, access("/dev/shm", W_OK) == 0 {
            let free = Int64(s.f_bavail) * Int64(s.f_frsize)
            if free > needBytes + (1 << 30) { return "/dev/shm" }
            progress("note: /dev/shm has \(formatBytes(free)) free, about \(formatBytes(needBytes)) needed: using \(NSTemporaryDirectory())")
        }
        return NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()
    }
}

func isoString(_ d: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: d)
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let v = self else { throw BenchError(message) }
        return v
    }
}

func pythonLazyCommand(_ argv: [String]) throws -> Int32 {
    let started = Date()
    let loadStart = loadAverage()
    let a = try Args(argv, valued: ["project", "python", "find-links", "args", "reps", "warm-reps", "warmups",
                                    "flavor-bin", "work-dir", "out-dir", "name", "repo"], flags: [])
    guard a.positionals.isEmpty else { throw BenchError("unexpected argument '\(a.positionals[0])' (see flavor-bench help)") }
    let repo = try repoRoot(a.value("repo"))
    let project = URL(fileURLWithPath: a.value("project") ?? repo + "/examples/sciapp").standardizedFileURL.path
    guard FileManager.default.fileExists(atPath: project + "/pyproject.toml") else { throw BenchError("\(project): no pyproject.toml there") }
    let py = try pythonOnPath(a)
    let python = try checked([py, "-c", "import sys; print(sys.executable)"], what: "\(py)").trimmingCharacters(in: .whitespacesAndNewlines)
    var o = PythonLazyBench.Options(project: project, python: python)
    o.findLinks = a.value("find-links").map { URL(fileURLWithPath: $0).standardizedFileURL.path }
    if let s = a.value("args") { o.appArgs = s.split(separator: " ").map(String.init) }
    if let n = try a.int("reps", min: 1) { o.coldReps = n }
    if let n = try a.int("warm-reps", min: 1) { o.warmReps = n }
    if let n = try a.int("warmups") { o.warmups = n; o.warmWarmups = max(n, 1) }
    let (commit, dirty) = gitState(repo)
    let tools = try Toolset.resolve(flavorBin: a.value("flavor-bin") ?? repo + "/.build/release", upstreamBin: nil, upstream: .off, pigz: false)
    var notes = busyNotes()
    let workRoot = try scenarioWorkRoot(a)
    defer { try? removeTree(workRoot) }
    let bench = try PythonLazyBench(options: o, tools: tools, workRoot: workRoot)
    let result = try bench.run()
    notes += bench.notes
    notes += disturbedNotes(result)
    let machine = Machine.current(loadAverageStart: loadStart)
    var toolList = scenarioTools(tools)
    toolList.append(Tool(name: "build python", path: python, version: Versions.of([python, "--version"])))
    let settings = Settings(packReps: 0, unpackReps: 0, coldReps: o.coldReps, warmReps: o.warmReps, warmups: o.warmups,
                            warmWarmups: o.warmWarmups, copyFloorThreads: 0, pigzThreads: 0, upstream: false, ioBackends: false)
    var report = Report(kind: "python-lazy", profile: "python-lazy", started: isoString(started), durationSeconds: Date().timeIntervalSince(started),
                        commit: commit, dirty: dirty, command: (["flavor-bench", "python-lazy"] + argv).map(shellQuote).joined(separator: " "),
                        machine: machine, tools: toolList, environment: [:], workDir: workRoot, workFilesystem: filesystemType(workRoot),
                        settings: settings, corpora: [result], notes: notes)
    report.durationSeconds = Date().timeIntervalSince(started)
    try writeScenarioReport(report, a: a, repo: repo, markdown: PythonLazyBench.markdown)
    return Exit.ok
}

// MARK: shared by the Python scenarios

extension Machine {
    /// This machine now, with the load average read at the start of the run and now.
    static func current(loadAverageStart: String) -> Machine {
        var m = Machine.current()
        m.loadAverageStart = loadAverageStart
        m.loadAverageEnd = loadAverage()
        return m
    }
}

/// The tools a Python scenario reports (ours; tar and gzip take no part).
func scenarioTools(_ tools: Toolset) -> [Tool] {
    Versions.tools(tools).filter { !["tar", "gzip", "flavor-bench"].contains($0.name) }
}

/// perf-reports/<date>-<commit>-<kind>.{json,md} (or --out-dir, --name); prints the head of the markdown.
func writeScenarioReport(_ report: Report, a: Args, repo: String, markdown: (Report, String) -> String) throws {
    let outDir = a.value("out-dir") ?? repo + "/perf-reports"
    try makeDirs(outDir)
    let base = a.value("name") ?? "\(report.started.prefix(10))-\(report.commit)-\(report.kind)"
    try report.write(json: outDir + "/\(base).json")
    let md = markdown(report, "\(base).json")
    try writeFile(outDir + "/\(base).md", md)
    print(md.components(separatedBy: "\n## ").prefix(2).joined(separator: "\n## "))
    print("\nwrote \(outDir)/\(base).json, .md")
}

/// A note when other heavy processes run at the start (figures are noisier then).
func busyNotes() -> [String] {
    let busy = busyProcesses()
    guard !busy.isEmpty else { return [] }
    let note = "other heavy processes were running at the start: \(busy.joined(separator: ", ")) (figures are noisier)"
    progress("warning: " + note)
    return [note]
}

/// A new work directory under --work-dir (default $TMPDIR: a disk, where users' caches are).
func scenarioWorkRoot(_ a: Args) throws -> String {
    let tmp = NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()
    let workBase = a.value("work-dir") ?? tmp
    try makeDirs(workBase)
    let workRoot = URL(fileURLWithPath: workBase).standardizedFileURL.path + "/flavor-bench-\(getpid())"
    try makeDirs(workRoot)
    return workRoot
}

/// Phases during which other processes used more than a tenth of a core.
func disturbedNotes(_ result: CorpusResult) -> [String] {
    (result.otherCPU ?? [:]).sorted(by: { $0.key < $1.key }).filter { $0.value > 0.1 }.map { phase, share in
        String(format: "%@: other processes used %.0f%% of a core while it ran (disturbed)", phase, share * 100)
    }
}

/// --python (default python3), found on PATH.
func pythonOnPath(_ a: Args) throws -> String {
    let name = a.value("python") ?? "python3"
    guard let py = which(name) else { throw BenchError("\(name) not found on PATH (pass --python PATH)") }
    return py
}
