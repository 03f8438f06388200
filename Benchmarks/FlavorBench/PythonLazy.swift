import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The python-lazy scenario (issue 12): one Python project with heavy dependencies (default
/// examples/sciapp), packed once progressively and once with `--eager`, launched with a command that
/// imports none of them (`--help`). Cold: the progressive package, the same package with FLAVOR_EAGER=1
/// (every slot at the first launch), and the progressive package's cold start followed by an `ensure`
/// of every lazy slot (all the lazy extraction a user can ever pay). Warm: both packages and the same
/// entry point from a plain venv. Every phase interleaves its commands run by run.
final class PythonLazyBench {
    struct Options {
        var project: String
        var python: String
        var findLinks: String?
        var appArgs = ["--help"]
        var coldReps = 5
        var warmReps = 30
        var warmups = 1
        var warmWarmups = 3
    }

    let opts: Options
    let tools: Toolset
    let work: String
    let spawner: Spawner
    var checks = [String]()
    var notes = [String]()
    var otherCPU = [String: Double]()
    var sizes = [SizeEntry]()
    var lazySlots = [Int]()
    var scriptName = ""

    init(options: Options, tools: Toolset, workRoot: String) throws {
        opts = options
        self.tools = tools
        work = workRoot + "/python-lazy"
        try removeTree(work)
        for d in ["out", "cold", "warm", "build"] { try makeDirs(work + "/" + d) }
        spawner = Spawner(scratchDir: work)
    }

    deinit { try? removeTree(work) }

    var progressive: String { work + "/out/app.psp" }
    var eagerBuild: String { work + "/out/eager/app.psp" }
    var venv: String { work + "/venv" }
    var runEnv: [String: String?] { ["PYTHONDONTWRITEBYTECODE": nil, "FLAVOR_EAGER": nil, "FLAVOR_LOG_LEVEL": nil] }

    func run() throws -> CorpusResult {
        let t0 = monotonicSeconds()
        try stage()
        var series = try coldPhases()
        series += try warmPhase()
        var result = CorpusResult(name: "python-lazy", origin: opts.project, digest: scriptName,
                                  files: 0, dirs: 0, bytes: sizes.first { $0.id == "progressive" }?.bytes ?? 0,
                                  series: series, sizes: sizes, ratios: [], targets: [], checks: checks, otherCPU: otherCPU)
        result.ratios = PythonLazyBench.ratios(result)
        result.targets = PythonLazyBench.targets(result)
        progress(String(format: "python-lazy: done in %.0f s", monotonicSeconds() - t0))
        return result
    }

    // MARK: staging (untimed)

    func stage() throws {
        let src = work + "/src"
        try checked(["cp", "-R", opts.project, src], what: "copying the project")
        for junk in ["build", "dist"] { try? removeTree(src + "/" + junk) }
        var pip = [String]()
        if let f = opts.findLinks { pip = ["--find-links", f, "--no-index"] }
        progress("python-lazy: packing \(opts.project) progressively and with --eager")
        for (out, extra) in [(progressive, [String]()), (eagerBuild, ["--eager"])] {
            try checked([tools.flavor, "pack", "--project", src, "--output", out, "--python", opts.python, "--launcher-bin", tools.launcher,
                         "--key-seed", "flavor-bench", "-q"] + pip + extra, what: "flavor pack \(extra.joined(separator: " "))")
        }
        let inspect = try checked([tools.flavor, "inspect", progressive, "--json"], what: "flavor inspect")
        let j = try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any] ?? [:]
        let slots = j["slots"] as? [[String: Any]] ?? []
        var lazyBytes = 0, eagerBytes = 0
        for s in slots {
            let id = s["id"] as? String ?? "", original = s["original_size"] as? Int ?? 0
            if s["extraction"] as? String == "lazy" {
                lazyBytes += original
                // One ensure per slot; its shards (`<id>.partN`) come with it.
                if !id.contains(".part"), let i = s["index"] as? Int { lazySlots.append(i) }
            } else { eagerBytes += original }
        }
        guard !lazySlots.isEmpty else { throw BenchError("\(opts.project): the progressive build has no lazy slot") }
        checks.append("progressive build: \(lazySlots.count) lazy slots (\(formatBytes(Int64(lazyBytes))) unpacked), eager part \(formatBytes(Int64(eagerBytes)))")
        sizes.append(SizeEntry(id: "progressive", label: "progressive package", bytes: Int64(fileSize(progressive) ?? 0)))
        sizes.append(SizeEntry(id: "eager", label: "the same project packed with --eager", bytes: Int64(fileSize(eagerBuild) ?? 0)))

        progress("python-lazy: making the venv floor")
        try checked([opts.python, "-m", "venv", venv], what: "making the venv floor")
        try checked(["cp", "-R", opts.project, work + "/proj-venv"], what: "copying the project")
        try checked([venv + "/bin/pip", "install", "-q", "--disable-pip-version-check"] + pip + [work + "/proj-venv"], what: "pip install into the venv floor")
        try checked([venv + "/bin/python", "-m", "compileall", "-q", venv + "/lib"], what: "byte-compiling the venv floor")
        // The project's first console script (its dependencies install theirs too: isympy, f2py).
        scriptName = try checked([opts.python, "-c", "import sys, tomllib; print(next(iter(tomllib.load(open(sys.argv[1], 'rb'))['project']['scripts'])))",
                                  opts.project + "/pyproject.toml"], what: "reading [project.scripts]").trimmingCharacters(in: .whitespacesAndNewlines)
        guard FileManager.default.isExecutableFile(atPath: venv + "/bin/" + scriptName) else {
            throw BenchError("\(opts.project): pip installed no \(scriptName) console script into the venv floor")
        }

        // Both packages must print what the venv prints.
        let floor = try outputOf(launch("venv", cache: nil), tag: "venv")
        for id in ["lazy", "eager_env", "eager_build"] {
            let got = try outputOf(launch(id, cache: work + "/check-\(id)"), tag: id)
            guard got == floor else { throw BenchError("\(id): output differs from the venv floor's (status \(got.0) vs \(floor.0))") }
            try? removeTree(work + "/check-\(id)")
        }
        checks.append("every package prints what the venv prints for `\(opts.appArgs.joined(separator: " "))` (status \(floor.0))")
    }

    func outputOf(_ cmd: Command, tag: String) throws -> (Int32, Data) {
        var c = cmd
        c.stdoutPath = "\(work)/out-\(tag).txt"
        let (status, _) = try spawner.spawnWait(c, stderrPath: "\(work)/err-\(tag).txt")
        return (status, FileManager.default.contents(atPath: c.stdoutPath) ?? Data())
    }

    func launch(_ id: String, cache: String?) -> Command {
        let env = runEnv.merging(["FLAVOR_CACHE_DIR": cache]) { $1 }
        switch id {
        case "lazy": return Command([progressive] + opts.appArgs, env: env)
        case "eager_env": return Command([progressive] + opts.appArgs, env: env.merging(["FLAVOR_EAGER": "1"]) { $1 })
        case "eager_build": return Command([eagerBuild] + opts.appArgs, env: env)
        case "lazy_total":
            // The cold start, then every lazy slot the app could ever ask for.
            return Command([tools.bash, "-c", "\"$1\" \"${@:3}\" >/dev/null && for n in $2; do FLAVOR_LAUNCHER_CLI=1 \"$1\" ensure $n >/dev/null || exit 1; done",
                            "lazy-total", progressive, lazySlots.map(String.init).joined(separator: " ")] + opts.appArgs, env: env)
        default: return Command([venv + "/bin/" + scriptName] + opts.appArgs, env: runEnv)
        }
    }

    // MARK: phases

    /// Two phases on the cold side. `cold`: the progressive cold start on its own. `total`: the eager cold
    /// start, the progressive cold start plus every ensure, and the progressive cold start again,
    /// interleaved. Kept apart because each eager run leaves ~200 MB of writeback that the next command
    /// pays for even after sync(2) (on this VM the progressive cold start then spreads from 55 to 120 ms),
    /// and a user's first launch follows no such write; the interleaved copy in `total` shows the cost.
    func coldPhases() throws -> [Series] {
        let c = work + "/cold"
        func variants(_ labels: [(String, String)], _ phase: String) -> [Variant] {
            // A new cache directory per run, none removed until the phase is over (ext4 slows inode
            // allocation right after a large rm -rf; see python-app), and sync(2) before each run.
            labels.map { id, label in
                Variant(id: id, label: label, command: { r in self.launch(id, cache: "\(c)/\(phase)-\(id)-\(r)") },
                        before: { r in try makeDirs("\(c)/\(phase)-\(id)-\(r)"); sync() })
            }
        }
        var out = [Series]()
        for (phase, labels) in [("cold", [("lazy", "progressive package, cold")]),
                                ("total", [("eager_env", "the same package with FLAVOR_EAGER=1, cold"),
                                           ("lazy_total", "progressive cold start + ensure of every lazy slot"),
                                           ("lazy", "progressive package, cold (interleaved with the eager runs)")])] {
            let v = variants(labels, phase)
            let r = try PhaseRunner(name: "python-lazy", spawner: spawner, time: tools.time)
                .run(phase, v, warmups: opts.warmups, reps: opts.coldReps, rssRuns: 1)
            otherCPU[phase] = r.otherCPU
            try removeTree(c)
            try makeDirs(c)
            out += v.map { series(phase, $0, r) }
        }
        return out
    }

    func warmPhase() throws -> [Series] {
        let w = work + "/warm"
        let labels = [("lazy", "progressive package (workenv of a --help start)"), ("eager_build", "the project packed with --eager"),
                      ("venv", "floor: the entry point from a plain venv")]
        var v = [Variant]()
        for (id, label) in labels {
            for _ in 0..<2 { try spawner.measure(launch(id, cache: "\(w)/\(id)"), what: "\(id): filling the cache before the warm runs") }
            v.append(Variant(id: id, label: label, command: { _ in self.launch(id, cache: "\(w)/\(id)") }))
        }
        let r = try PhaseRunner(name: "python-lazy", spawner: spawner, time: tools.time)
            .run("warm", v, warmups: opts.warmWarmups, reps: opts.warmReps, rssRuns: 1)
        otherCPU["warm"] = r.otherCPU
        return v.map { series("warm", $0, r) }
    }

    func series(_ phase: String, _ v: Variant, _ r: PhaseRunner.Result) -> Series { Series(phase, v, r) }

    // MARK: ratios and targets

    static let timeRatios: [(String, String, String, String)] = [
        ("cold/eager÷lazy", "cold start: eager ÷ progressive (how much faster progressive is)", "total/eager_env", "cold/lazy"),
        ("total/eager÷lazy", "the same, both in the interleaved phase", "total/eager_env", "total/lazy"),
        ("cold/lazy÷warm", "cold start ÷ its own warm start", "cold/lazy", "warm/lazy"),
        ("total/lazy÷warm", "the same, cold start from the interleaved phase", "total/lazy", "warm/lazy"),
        ("total/lazy_total÷eager", "all lazy extraction (cold start + every ensure) ÷ the eager cold start", "total/lazy_total", "total/eager_env"),
        ("warm/lazy÷eager_build", "warm start: progressive ÷ --eager build", "warm/lazy", "warm/eager_build"),
        ("warm/lazy÷venv", "warm start: progressive ÷ the venv floor", "warm/lazy", "warm/venv"),
    ]

    static func ratios(_ r: CorpusResult) -> [Ratio] { Ratios.medians(r, timeRatios) }

    /// The acceptance figures of issue 12, on this run's numbers.
    static func targets(_ r: CorpusResult) -> [Target] {
        var t = [Target]()
        if let v = r.ratio("cold/eager÷lazy")?.value {
            t.append(Target(id: "cold_vs_eager", label: "cold start vs the same package extracted eagerly", measured: String(format: "%.1f× faster", v),
                            goal: "≥ 5× faster", met: v >= 5))
        }
        if let v = r.ratio("cold/lazy÷warm")?.value {
            t.append(Target(id: "cold_vs_warm", label: "cold start ÷ its own warm start", measured: String(format: "%.2f×", v), goal: "≤ 3×", met: v <= 3))
        }
        if let v = r.ratio("total/lazy_total÷eager")?.value {
            t.append(Target(id: "lazy_total", label: "all lazy extraction ÷ the eager extraction", measured: String(format: "%.2f×", v), goal: "≤ 1.2×", met: v <= 1.2))
        }
        if let w = r.series("warm/lazy"), let f = r.series("warm/venv") {
            let over = (w.wall.median - f.wall.median) * 1000
            t.append(Target(id: "warm_over_venv", label: "warm start p50 over the venv floor", measured: String(format: "%+.2f ms", over),
                            goal: "≤ +1 ms", met: over <= 1))
        }
        if let w = r.series("warm/lazy"), let e = r.series("warm/eager_build") {
            let over = (w.wall.median - e.wall.median) * 1000
            t.append(Target(id: "warm_vs_eager_build", label: "warm start p50 over the --eager build (the hook's cost)",
                            measured: String(format: "%+.2f ms", over), goal: "unchanged (≤ +1 ms)", met: over <= 1))
        }
        return t
    }

    // MARK: report

    static func markdown(_ r: Report, jsonName: String) -> String {
        guard let c = r.corpora.first else { return "# flavor-bench python-lazy: no result\n" }
        var s = "# flavor-bench python-lazy, \(r.started.prefix(10)), commit \(r.commit)\(r.dirty ? " (with uncommitted changes)" : "")\n\n"
        let m = r.machine
        s += "- App: `\(c.digest)` from `\(c.origin)`. Machine: \(m.nproc) × \(m.cpuModel), kernel \(m.kernel), \(m.os); "
        s += "caches on **\(r.workFilesystem)**; load average \(m.loadAverageStart) at start, \(m.loadAverageEnd) at the end.\n"
        s += "- Command: `\(r.command)`; \(String(format: "%.1f", r.durationSeconds / 60)) minutes. Every sample: [`\(jsonName)`](\(jsonName)). Method: docs/PERFORMANCE.md (python-lazy).\n"
        s += "- Repetitions after \(r.settings.warmups) warm-up round: cold \(r.settings.coldReps); warm \(r.settings.warmReps) after \(r.settings.warmWarmups). Commands of a phase are interleaved run by run.\n"
        for n in r.notes { s += "- \(n)\n" }
        if !c.targets.isEmpty {
            s += "\n## Targets (issue 12)\n\n| target | goal | measured | met |\n|---|---|---:|:---:|\n"
            for t in c.targets { s += "| \(t.label) | \(t.goal) | \(t.measured) | \(t.met ? "yes" : "**no**") |\n" }
        }
        for (phase, title) in [("cold", "Cold start (empty cache), on its own"),
                               ("total", "Cold starts interleaved: eager, progressive + every ensure, progressive"), ("warm", "Warm start")] {
            let list = c.series.filter { $0.phase == phase }
            guard !list.isEmpty else { continue }
            s += "\n## \(title)\n\n| command | n | median | p95 | min – max | peak RSS |\n|---|---:|---:|---:|---:|---:|\n"
            for x in list {
                s += "| \(x.label) | \(x.wall.n) | \(formatSeconds(x.wall.median)) | \(formatSeconds(x.wall.p95)) | \(formatSeconds(x.wall.min)) – \(formatSeconds(x.wall.max)) | \(Markdown.mib(x.rssKiB?.median)) |\n"
            }
        }
        s += "\n## Sizes\n\n| what | bytes |\n|---|---:|\n"
        for z in c.sizes { s += "| \(z.label) | \(z.bytes) (\(formatBytes(z.bytes))) |\n" }
        if !c.ratios.isEmpty {
            s += "\n## Ratios in this run (medians)\n\n"
            for x in c.ratios { s += "- \(x.label): **\(String(format: "%.3f", x.value))**\n" }
        }
        if let o = c.otherCPU, !o.isEmpty {
            s += "\nOther processes' CPU while each phase ran (share of one core): "
                + ["cold", "total", "warm"].compactMap { k in o[k].map { String(format: "%@ %.0f%%", k, $0 * 100) } }.joined(separator: ", ") + ".\n"
        }
        if !c.checks.isEmpty { s += "\nChecks: " + c.checks.joined(separator: "; ") + ".\n" }
        s += "\nCommands:\n\n" + c.series.map { "- `\($0.id)`: `\($0.command)`" }.joined(separator: "\n") + "\n"
        return s
    }
}
