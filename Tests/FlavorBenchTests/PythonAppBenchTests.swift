import Foundation
import Testing

/// The python-app scenario end to end, with one run of everything: the harness sets up PyInstaller and
/// upstream flavorpack from PyPI itself (`--peers require`: a peer that cannot be set up fails the test),
/// builds the example with all three, launches each cold and warm beside the venv floor, checks that every
/// packed app prints what the venv prints, and writes the JSON and markdown reports. No timing is
/// asserted here (the numbers are the benchmark's, docs/PERFORMANCE.md); what is checked is that each
/// measurement exists, the outputs agree and the targets are evaluated.
@Suite("flavor-bench python-app: the scenario runs and reports", .serialized)
struct PythonAppBenchTests {
    init() throws {
        try #require(Bench.missing.isEmpty, "not built: \(Bench.missing.joined(separator: ", ")) (swift build first)")
    }

    @Test("python-app: ours, PyInstaller, upstream and the venv floor, built, launched cold and warm, reported", .timeLimit(.minutes(10)))
    func scenario() throws {
        // A short work directory: upstream 0.5.4's first launch runs `uv pip install` in a temporary
        // workenv, and with a long path uv writes `/bin/sh` trampolines (not `#!` lines) naming that
        // temporary directory, which upstream then renames: its app fails with "python3: not found".
        let d = Scratch(short: true)
        let r = try run(Bench.bench, ["python-app", "--flavor-bin", Bench.buildDir, "--peers", "require", "--build-reps", "1",
                                      "--warmups", "0", "--reps", "1", "--warm-reps", "3", "--no-fresh-cache",
                                      "--work-dir", d.sub("work"), "--out-dir", d.sub("out"), "--name", "p"])
        try #require(r.status == 0, "\(r.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d.sub("out/p.json")))) as? [String: Any])
        #expect(json["kind"] as? String == "python-app")
        let c = try #require((json["corpora"] as? [[String: Any]])?.first)
        #expect(c["digest"] as? String == "wordstats 1.2.0")
        let ids = Set(((c["series"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String })
        let tools = ["ours", "pyinstaller", "upstream"]
        let expected = Set(tools.map { "pack/" + $0 } + ["pack/pyinstaller_step"]
                           + (tools + ["venv"]).flatMap { ["cold/" + $0, "warm/" + $0] })
        #expect(ids == expected, "\(ids.symmetricDifference(expected))")
        let sizes = Dictionary(uniqueKeysWithValues: ((c["sizes"] as? [[String: Any]]) ?? []).compactMap { s in
            (s["id"] as? String).map { ($0, s["bytes"] as? Int ?? 0) } })
        for t in tools { #expect(sizes[t] ?? 0 > 5_000_000, "\(t): \(sizes)") }
        let checks = (c["checks"] as? [String]) ?? []
        for t in tools {
            #expect(checks.contains { $0.hasPrefix("\(t): stdout and exit status equal the venv floor's") }, "\(checks)")
        }
        #expect(checks.contains("ours: warm launches wrote nothing into the cache"), "\(checks)")
        let targets = Set(((c["targets"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String })
        #expect(targets == ["warm_over_venv", "warm_over_venv_paired", "warm_vs_pyinstaller", "venv_vs_pyinstaller",
                            "cold_vs_pyinstaller", "cold_vs_upstream", "build_vs_pyinstaller", "size_vs_pyinstaller"], "\(targets)")
        let md = try String(contentsOfFile: d.sub("out/p.md"), encoding: .utf8)
        #expect(md.contains("## Targets (issue 10)") && md.contains("warm launch p50 over the venv floor") && md.contains("## Sizes"))
        // Nothing of the run is left in its work directory.
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: d.sub("work"))) ?? []).isEmpty)
    }
}
