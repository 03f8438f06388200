import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One command measured in an interleaved phase. `before`/`after` run untimed around every run.
struct Variant {
    var id: String
    var label: String
    var command: (Int) -> Command
    var before: (Int) throws -> Void = { _ in }
    var after: (Int) throws -> Void = { _ in }
}

/// Measures one corpus: pack, sizes, unpack, cold and warm launch, beside the references.
///
/// Every phase interleaves its commands (run r executes each command once, the order rotated by r),
/// so that a slow spell of this shared machine hits ours and the references alike; the ratios of
/// medians taken this way are what reports and the gate compare.
final class CorpusBench {
    let corpus: Corpus
    let tools: Toolset
    let plan: Plan
    let work: String
    let spawner: Spawner
    var checks = [String]()
    var otherCPU = [String: Double]()
    /// The corpus's content digest (no modes), computed on first use by `verifyTree`.
    lazy var contentDigest: String = (try? treeDigest(corpus.root, corpus.summary, modes: false)) ?? "unreadable"

    /// The package name inside the workenv is the package file's stem.
    static let packageName = "flavor-bench"

    init(corpus: Corpus, tools: Toolset, plan: Plan, workRoot: String) throws {
        self.corpus = corpus
        self.tools = tools
        self.plan = plan
        work = workRoot + "/" + corpus.name
        try removeTree(work)
        try makeDirs(work + "/out")
        spawner = Spawner(scratchDir: work)
    }

    /// Package copies outside the work directory (warm launch from disk).
    var diskDirs = [String]()

    deinit {
        try? removeTree(work)
        for d in diskDirs { try? removeTree(d) }
    }

    var src: String { work + "/src" }
    var app: String { work + "/src/app" }
    var out: String { work + "/out" }
    var tarArgs: [String] { [tools.tar, "--sort=name", "--owner=0", "--group=0", "--numeric-owner"] }

    // MARK: phases

    func run() throws -> CorpusResult {
        let t0 = monotonicSeconds()
        try stage()
        var series = [Series]()
        series += try packPhase()
        let sizes = try sizesOf()
        series += try unpackPhase()
        series += try coldPhase()
        series += try warmPhase()
        var result = CorpusResult(name: corpus.name, origin: corpus.origin, digest: corpus.digest, files: corpus.summary.files,
                                  dirs: corpus.summary.dirs, bytes: corpus.summary.bytes, series: series, sizes: sizes,
                                  ratios: [], targets: [], checks: checks, otherCPU: otherCPU)
        result.ratios = Ratios.compute(result)
        result.targets = Targets.evaluate(result, cores: plan.pigzThreads)
        progress(String(format: "%@: done in %.0f s", corpus.name, monotonicSeconds() - t0))
        return result
    }

    /// Copies the corpus to the work directory (tmpfs by default), writes the no-op payload, the
    /// manifests, the copy-floor list and the reference tarballs (untimed).
    func stage() throws {
        progress("\(corpus.name): staging \(corpus.summary.files) files, \(formatBytes(corpus.summary.bytes)) in \(work)")
        try makeDirs(src)
        try checked(["cp", "-a", "--", corpus.root, app], what: "copying the corpus")
        try writeFile(work + "/noop.sh", "#!/bin/sh\nexit 0\n", mode: 0o755)
        try CopyFloor.writeList(corpus.summary, to: work + "/list.bin")
        try writeFile(work + "/m-ours.json", manifest(source: app, target: "app"))
        try checked(tarArgs + ["-cf", work + "/tree.tar", "-C", src, "app"], what: "tar -cf (reference input)")
        try checked(tarArgs + ["-czf", work + "/tree.tgz", "-C", src, "app"], what: "tar -czf (reference input)")
        if tools.upstream {
            // Upstream builders store sources verbatim: they get the tree as a .tar.gz at the workenv root.
            try writeFile(work + "/m-up.json", manifest(source: work + "/tree.tgz", target: "{workenv}"))
        }
    }

    func manifest(source: String, target: String) -> String {
        func q(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return """
            {"package": {"name": \(q(Self.packageName)), "version": "1.0.0", "description": "flavor-bench \(corpus.name)"},
             "execution": {"command": "{workenv}/bin/noop"},
             "slots": [
               {"slot": 0, "id": "noop", "source": \(q(work + "/noop.sh")), "target": "bin/noop",
                "operations": "none", "purpose": "payload", "lifecycle": "runtime", "permissions": "0755"},
               {"slot": 1, "id": "tree", "source": \(q(source)), "target": \(q(target)),
                "operations": "tgz", "purpose": "payload", "lifecycle": "runtime"}
             ]}

            """
    }

    func packPhase() throws -> [Series] {
        var v = [Variant]()
        let oursOut = out + "/ours.psp"
        // --no-verify: upstream's builders and tar do not check their output either (the attestation stays).
        v.append(Variant(id: "ours", label: "flavor pack (gzip -6)", command: { _ in
            Command([self.tools.flavor, "pack", "--manifest", self.work + "/m-ours.json", "--output", oursOut,
                     "--launcher-bin", self.tools.launcher, "--key-seed", "flavor-bench", "--no-verify", "-q"])
        }, before: { _ in unlink(oursOut) }))
        v.append(Variant(id: "gzip6", label: "gzip -6 of the same tar", command: { _ in
            Command([self.tools.gzip, "-6", "-c", self.work + "/tree.tar"], stdout: self.out + "/tree.tar.gz")
        }))
        if let pigz = tools.pigz {
            let p = plan.pigzThreads
            v.append(Variant(id: "pigz6", label: "pigz -6 -p \(p) of the same tar", command: { _ in
                Command([pigz, "-6", "-p", "\(p)", "-c", self.work + "/tree.tar"], stdout: self.out + "/tree.tar.pigz.gz")
            }))
        }
        if !plan.gateOnly {
            v.append(Variant(id: "tar_czf", label: "tar -czf", command: { _ in
                Command(self.tarArgs + ["-czf", self.out + "/tar.tgz", "-C", self.src, "app"])
            }))
            if let pigz = tools.pigz {
                let p = plan.pigzThreads
                v.append(Variant(id: "pigz", label: "tar -cf - | pigz -p \(p) -6", command: { _ in
                    Command([self.tools.bash, "-c", "set -o pipefail; \"$0\" --sort=name --owner=0 --group=0 --numeric-owner -cf - -C \"$1\" app | \"$2\" -p \(p) -6 > \"$3\"",
                             self.tools.tar, self.src, pigz, self.out + "/pigz.tgz"])
                }))
            }
            if let b = tools.rsBuilder, let l = tools.rsLauncher {
                v.append(builder("rs_builder", "upstream rs builder (input: the .tgz)", b, l, out + "/rs.psp"))
            }
            if let b = tools.goBuilder, let l = tools.goLauncher {
                v.append(builder("go_builder", "upstream go builder (input: the .tgz)", b, l, out + "/go.psp"))
            }
        }
        let (samples, rss) = try interleave("pack", v, warmups: plan.warmups, reps: plan.packReps, rssRuns: plan.rssRunsOther)
        var s = v.map { mk("pack", $0, samples[$0.id]!, rss[$0.id]!, bytes: corpus.summary.bytes, files: nil) }
        // What an upstream user runs: tar -czf, then the builder (per-run sums of the interleaved samples).
        for b in ["rs_builder", "go_builder"] {
            guard let tz = samples["tar_czf"], let bs = samples[b] else { continue }
            let sum = zip(tz, bs).map { Sample(wall: $0.wall + $1.wall, user: $0.user + $1.user, sys: $0.sys + $1.sys) }
            let peak = zip(rss["tar_czf"]!, rss[b]!).map { max($0, $1) }
            s.append(Series(id: "pack/tar_czf+\(b)", phase: "pack", label: "tar -czf + upstream \(b.prefix(2)) builder",
                            command: "tar -czf, then the builder", samples: sum, rss: peak, bytes: corpus.summary.bytes, files: nil))
        }
        return s
    }

    func builder(_ id: String, _ label: String, _ exe: String, _ launcher: String, _ output: String) -> Variant {
        Variant(id: id, label: label, command: { _ in
            Command([exe, "--manifest", self.work + "/m-up.json", "--output", output, "--launcher-bin", launcher,
                     "--key-seed", "flavor-bench"])
        }, before: { _ in unlink(output) })
    }

    func sizesOf() throws -> [SizeEntry] {
        var s = [SizeEntry]()
        func add(_ id: String, _ label: String, _ path: String) {
            if let n = fileSize(path) { s.append(SizeEntry(id: id, label: label, bytes: n)) }
        }
        s.append(SizeEntry(id: "input", label: "corpus bytes", bytes: corpus.summary.bytes))
        add("tar", "tar", work + "/tree.tar")
        add("ours_package", "flavor package", out + "/ours.psp")
        add("launcher_ours", "flavor-launcher", tools.launcher)
        if let p = fileSize(out + "/ours.psp"), let l = fileSize(tools.launcher) {
            // The attestation (SBOM + provenance, ~2 KB plus ~0.4 KB per slot) is reported on its own: the
            // payload ratio measures compression, and on `tiny` the attestation alone would be 10× the data.
            let a = try attestationBytes(out + "/ours.psp")
            s.append(SizeEntry(id: "ours_payload", label: "flavor package − launcher − attestation", bytes: p - l - a))
            s.append(SizeEntry(id: "attestation_ours", label: "flavor attestation slot", bytes: a))
        }
        add("gzip6", "gzip -6 of the tar", out + "/tree.tar.gz")
        add("tgz", "tar -czf", work + "/tree.tgz")
        if tools.pigz != nil { add("pigz", "pigz -6", out + "/pigz.tgz") }
        if tools.upstream {
            add("rs_package", "upstream rs package", out + "/rs.psp")
            add("go_package", "upstream go package", out + "/go.psp")
            add("launcher_rs", "flavor-rs-launcher", tools.rsLauncher!)
            add("launcher_go", "flavor-go-launcher", tools.goLauncher!)
        }
        guard s.contains(where: { $0.id == "ours_package" }) else { throw BenchError("\(out)/ours.psp missing after the pack phase") }
        return s
    }

    /// Stored bytes of the package's attestation slot (0 without one), as `flavor inspect --json` reports it.
    func attestationBytes(_ package: String) throws -> Int64 {
        let out = try checked([tools.flavor, "inspect", package, "--json"], what: "flavor inspect")
        let j = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] ?? [:]
        let slots = j["slots"] as? [[String: Any]] ?? []
        return slots.filter { $0["lifecycle"] as? String == "attestation" }.reduce(Int64(0)) { $0 + Int64($1["size"] as? Int ?? 0) }
    }

    func unpackPhase() throws -> [Series] {
        let x = work + "/x"
        try makeDirs(x)
        var v = [Variant]()
        v.append(Variant(id: "ours", label: "flavor extract-all", command: { r in
            Command([self.tools.flavor, "extract-all", self.out + "/ours.psp", "\(x)/ours-\(r)"])
        }, after: { r in
            if r == 0 && self.plan.verify { try self.verifyTree("\(x)/ours-\(r)/app", what: "flavor extract-all", fatal: true) }
            try removeTree("\(x)/ours-\(r)")
        }))
        v.append(tarX("tar_xzf", "tar -xzf", x, compressor: nil))
        if !plan.gateOnly, tools.pigz != nil { v.append(tarX("pigz_xf", "tar -I pigz -xf", x, compressor: "pigz")) }
        v.append(writeFloor(x))
        let (samples, rss) = try interleave("unpack", v, warmups: plan.warmups, reps: plan.unpackReps, rssRuns: plan.rssRunsOther)
        return v.map { mk("unpack", $0, samples[$0.id]!, rss[$0.id]!, bytes: corpus.summary.bytes, files: corpus.summary.files) }
    }

    /// The write floor: `copy-floor` of the staged (decompressed) corpus with `copyThreads` threads.
    func writeFloor(_ x: String) -> Variant {
        let th = plan.copyThreads
        return Variant(id: "write_floor", label: "write floor: \(th)-thread copy of the decompressed tree", command: { r in
            Command([self.tools.bench, "copy-floor", "--list", self.work + "/list.bin", "--threads", "\(th)",
                     self.app, "\(x)/floor-\(r)/app"])
        }, before: { r in try makeDirs("\(x)/floor-\(r)") }, after: { r in try removeTree("\(x)/floor-\(r)") })
    }

    func tarX(_ id: String, _ label: String, _ x: String, compressor: String?) -> Variant {
        Variant(id: id, label: label, command: { r in
            Command([self.tools.tar] + (compressor.map { ["-I", $0, "-xf"] } ?? ["-xzf"]) + [self.work + "/tree.tgz", "-C", "\(x)/\(id)-\(r)"])
        }, before: { r in try makeDirs("\(x)/\(id)-\(r)") }, after: { r in try removeTree("\(x)/\(id)-\(r)") })
    }

    /// The launchers under test: (id, label, package, environment).
    func launchers(backends: Bool) -> [(String, String, String, [String: String?])] {
        var l: [(String, String, String, [String: String?])] = [("ours", "flavor-launcher", out + "/ours.psp", [:])]
        if backends {
            l.append(("ours_posix", "flavor-launcher FLAVOR_IO=posix", out + "/ours.psp", ["FLAVOR_IO": "posix"]))
            l.append(("ours_uring", "flavor-launcher FLAVOR_IO=uring", out + "/ours.psp", ["FLAVOR_IO": "uring"]))
        }
        if tools.upstream && !plan.gateOnly {
            l.append(("rs", "upstream rs launcher 0.5.4", out + "/rs.psp", [:]))
            l.append(("go", "upstream go launcher 0.5.4", out + "/go.psp", [:]))
        }
        return l
    }

    func workenv(cache: String, package: String) -> String {
        cache + "/workenv/" + ((package as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    func coldPhase() throws -> [Series] {
        let c = work + "/cold", x = work + "/x"
        try makeDirs(c)
        try makeDirs(x)
        var v = [Variant]()
        for (id, label, pkg, env) in launchers(backends: plan.ioBackends) {
            v.append(Variant(id: id, label: label, command: { r in
                Command([pkg], env: env.merging(["FLAVOR_CACHE_DIR": "\(c)/\(id)-\(r)"]) { $1 })
            }, before: { r in try makeDirs("\(c)/\(id)-\(r)") }, after: { r in
                if r == 0 && self.plan.verify {
                    try self.verifyTree(self.workenv(cache: "\(c)/\(id)-\(r)", package: pkg) + "/app", what: "\(label) (cold)", fatal: id.hasPrefix("ours"))
                }
                try removeTree("\(c)/\(id)-\(r)")
            }))
        }
        v.append(tarX("tar_xzf", "tar -xzf", x, compressor: nil))
        v.append(writeFloor(x))
        let (samples, rss) = try interleave("cold", v, warmups: plan.warmups, reps: plan.coldReps, rssRuns: plan.rssRunsLaunch)
        return v.map { mk("cold", $0, samples[$0.id]!, rss[$0.id]!, bytes: corpus.summary.bytes, files: corpus.summary.files) }
    }

    func warmPhase() throws -> [Series] {
        let w = work + "/warm"
        var v = [Variant]()
        var oursWorkenv = ""
        for (id, label, pkg, env) in launchers(backends: false) {
            let cache = "\(w)/\(id)"
            try makeDirs(cache)
            let e = env.merging(["FLAVOR_CACHE_DIR": cache]) { $1 }
            try spawner.measure(Command([pkg], env: e), what: "\(label): first (cold) launch before the warm runs")
            let we = workenv(cache: cache, package: pkg)
            if plan.verify { try verifyTree(we + "/app", what: "\(label) (warm cache)", fatal: id == "ours") }
            if id == "ours" { oursWorkenv = we }
            v.append(Variant(id: id, label: label, command: { _ in Command([pkg], env: e) }))
        }
        // The same package file on a disk filesystem (when $TMPDIR is one): exec of the 10 MB static
        // launcher from tmpfs costs measurably more than from a disk file's page cache.
        let tmp = NSTemporaryDirectory()
        if filesystemType(tmp) != "tmpfs" && filesystemType(work) == "tmpfs" {
            let dir = (tmp.hasSuffix("/") ? tmp : tmp + "/") + "flavor-bench-disk-\(getpid())-\(corpus.name)"
            try makeDirs(dir)
            diskDirs.append(dir)
            let pkg = dir + "/ours.psp"
            try checked(["cp", out + "/ours.psp", pkg], what: "copying the package to disk")
            let e: [String: String?] = ["FLAVOR_CACHE_DIR": "\(w)/ours"]
            try spawner.measure(Command([pkg], env: e), what: "flavor-launcher (package on disk): first launch")
            v.insert(Variant(id: "ours_disk", label: "flavor-launcher, package on \(filesystemType(tmp))", command: { _ in Command([pkg], env: e) }), at: 1)
        }
        // The same warm start under an operator policy that requires a trusted key (the package's,
        // trusted with `flavor trust add`): the cost of policy enforcement on every start.
        if let ours = v.first(where: { $0.id == "ours" }) {
            let conf = w + "/policy-config"
            try makeDirs(conf)
            _ = try checked([tools.flavor, "keygen", "--seed", "flavor-bench", "--out-dir", conf + "/keys", "--force", "-q"], what: "the bench's key pair")
            _ = try checked([tools.flavor, "trust", "add", conf + "/keys/flavor-public.key", "-q"], env: ["FLAVOR_CONFIG_DIR": conf],
                            what: "flavor trust add")
            try #"{"version": 1, "trust": {"require_trusted_key": true}, "execution": {"refuse_root": false}}"#
                .write(toFile: conf + "/policy.json", atomically: true, encoding: .utf8)
            let e: [String: String?] = ["FLAVOR_CACHE_DIR": "\(w)/ours", "FLAVOR_CONFIG_DIR": conf]
            try spawner.measure(Command([out + "/ours.psp"], env: e), what: "flavor-launcher under a trusted-key policy")
            v.insert(Variant(id: "ours_policy", label: "flavor-launcher, policy requiring a trusted key", command: { _ in Command([self.out + "/ours.psp"], env: e) }),
                     at: v.firstIndex { $0.id == ours.id }! + 1)
        }
        let floor = oursWorkenv + "/bin/noop"
        guard FileManager.default.isExecutableFile(atPath: floor) else { throw BenchError("\(floor): the no-op payload is not in the workenv") }
        // What any launcher pays before its own work: one more exec, of a static C program that only
        // execs the payload (musl, as ours links). ours − exec_only is the launcher's own work.
        if let trampoline = try execOnlyLauncher() {
            v.append(Variant(id: "exec_only", label: "exec-only launcher: static musl C that execs the payload", command: { _ in Command([trampoline, floor]) }))
        }
        v.append(Variant(id: "floor", label: "launch floor: exec of the payload", command: { _ in Command([floor]) }))
        // Two groups. Upstream's rs launcher reads and hashes the whole package (up to 268 MB) on
        // every warm start; run between our samples, it flushes the CPU caches before each of them,
        // which measures its footprint rather than ours. So ours and the floor (the target) are
        // interleaved on their own, and ours once more beside the upstream launchers (the ratios
        // against them), both reported.
        let upstreamIDs: Set<String> = ["rs", "go"]
        let own = v.filter { !upstreamIDs.contains($0.id) }
        var beside = v.filter { upstreamIDs.contains($0.id) }
        if !beside.isEmpty, let ours = v.first(where: { $0.id == "ours" }) {
            beside.insert(Variant(id: "ours_mixed", label: "flavor-launcher, interleaved with upstream's launchers", command: ours.command), at: 0)
        }
        var series = [Series]()
        for group in [own, beside] where !group.isEmpty {
            let (samples, rss) = try interleave("warm", group, warmups: plan.warmWarmups, reps: plan.warmReps, rssRuns: plan.rssRunsLaunch)
            series += group.map { mk("warm", $0, samples[$0.id]!, rss[$0.id]!, bytes: nil, files: nil) }
        }
        return series
    }

    /// Builds the exec-only launcher with gcc and musl's specs (scripts/install-deps installs musl-dev),
    /// once per run, in the work root the corpora share; nil, with a note, where they are missing.
    func execOnlyLauncher() throws -> String? {
        let specs = "/usr/lib/x86_64-linux-musl/musl-gcc.specs"
        guard FileManager.default.fileExists(atPath: specs) else {
            progress("\(corpus.name): warm: no exec-only launcher (musl-dev is not installed)")
            return nil
        }
        let root = (work as NSString).deletingLastPathComponent
        let src = root + "/exec-only.c", exe = root + "/exec-only"
        if FileManager.default.isExecutableFile(atPath: exe) { return exe }
        try writeFile(src, """
            #include <unistd.h>
            extern char **environ;
            int main(int argc, char **argv) { if (argc < 2) return 2; execve(argv[1], argv + 1, environ); return 127; }

            """, mode: 0o644)
        _ = try checked(["gcc", "-specs=" + specs, "-static", "-O2", "-s", "-o", exe, src], what: "building the exec-only launcher")
        return exe
    }

    // MARK: machinery

    func mk(_ phase: String, _ v: Variant, _ samples: [Sample], _ rss: [Int], bytes: Int64?, files: Int?) -> Series {
        Series(id: "\(phase)/\(v.id)", phase: phase, label: v.label, command: v.command(0).display,
               samples: samples, rss: rss, bytes: bytes, files: files)
    }

    func interleave(_ phase: String, _ variants: [Variant], warmups: Int, reps: Int, rssRuns: Int) throws -> ([String: [Sample]], [String: [Int]]) {
        let r = try PhaseRunner(name: corpus.name, spawner: spawner, time: tools.time)
            .run(phase, variants, warmups: warmups, reps: reps, rssRuns: rssRuns)
        otherCPU[phase] = r.otherCPU
        return (r.samples, r.rss)
    }

    /// Checks that `dir` holds exactly the corpus (paths, sizes, bytes).
    func verifyTree(_ dir: String, what: String, fatal: Bool) throws {
        let got: String
        do {
            got = try treeDigest(dir, try walkTree(dir), modes: false)
        } catch {
            got = "unreadable (\(error))"
        }
        if got == contentDigest {
            checks.append("\(what): extracted tree matches the corpus")
            return
        }
        let msg = "\(what): extracted tree \(dir) differs from the corpus (content digest \(got.prefix(23))…, corpus \(contentDigest.prefix(23))…)"
        if fatal { throw BenchError(msg) }
        checks.append("WARNING " + msg)
        progress("warning: " + msg)
    }
}

/// Runs the commands of one phase interleaved: `warmups + reps` rounds, each running every variant once
/// from a rotating offset, so that a slow spell of this shared machine hits every command alike. Then
/// `rssRuns` untimed rounds under GNU time for peak RSS (when it is installed).
struct PhaseRunner {
    /// The corpus or scenario, for progress lines and errors.
    let name: String
    let spawner: Spawner
    let time: String?

    struct Result {
        var samples: [String: [Sample]]
        var rss: [String: [Int]]
        /// CPU other processes used meanwhile, as a fraction of one core (`CPUMeter`).
        var otherCPU: Double
    }

    func run(_ phase: String, _ variants: [Variant], warmups: Int, reps: Int, rssRuns: Int) throws -> Result {
        let t0 = monotonicSeconds()
        let meter = CPUMeter()
        progress("\(name): \(phase): \(warmups) warm-up + \(reps) runs × \(variants.count) commands (\(variants.map(\.id).joined(separator: ", ")))")
        var out = [String: [Sample]]()
        for v in variants { out[v.id] = [] }
        for r in 0..<(warmups + reps) {
            for k in 0..<variants.count {
                let v = variants[(k + r) % variants.count]
                try v.before(r)
                let s = try spawner.measure(v.command(r), what: "\(name) \(phase) \(v.id)")
                try v.after(r)
                if r >= warmups { out[v.id]!.append(s) }
            }
        }
        var rss = [String: [Int]]()
        for v in variants { rss[v.id] = [] }
        if let time {
            for k in 0..<rssRuns {
                let r = warmups + reps + k
                for v in variants {
                    try v.before(r)
                    rss[v.id]!.append(try spawner.peakRSS(v.command(r), time: time, what: "\(name) \(phase) \(v.id) (peak RSS run)"))
                    try v.after(r)
                }
            }
        }
        var line = "\(name): \(phase):"
        for v in variants { line += " \(v.id) " + formatSeconds(Stats(out[v.id]!.map(\.wall)).median) }
        let other = meter.otherCoreShare()
        progress(line + String(format: " (%.0f s)", monotonicSeconds() - t0))
        if other > 0.1 {
            progress(String(format: "warning: %@ %@: other processes used %.0f%% of a core meanwhile (figures disturbed)", name, phase, other * 100))
        }
        return Result(samples: out, rss: rss, otherCPU: other)
    }
}

func formatSeconds(_ s: Double) -> String {
    if s.isNaN { return "–" }
    if s >= 10 { return String(format: "%.1f s", s) }
    if s >= 1 { return String(format: "%.2f s", s) }
    if s >= 0.01 { return String(format: "%.0f ms", s * 1000) }
    return String(format: "%.2f ms", s * 1000)
}
