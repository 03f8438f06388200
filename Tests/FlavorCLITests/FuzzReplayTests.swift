import Foundation
import Testing

/// The committed fuzz seeds and every input a fuzzer ever failed on (Tests/FlavorFuzz/Regressions)
/// run through their targets in the ordinary build: a fixed crash stays fixed (docs/RELIABILITY.md).
@Suite("fuzz corpora replay: seeds and past crashes")
struct FuzzReplayTests {
    static let targets = ["package", "json", "manifest", "decoders", "tar"]

    @Test("every committed input of the target runs without a failure", arguments: targets)
    func replay(_ target: String) throws {
        let base = Tools.repoRoot + "/Tests/FlavorFuzz"
        let seeds = try FileManager.default.contentsOfDirectory(atPath: base + "/Corpus/" + target)
        #expect(!seeds.isEmpty, "no seeds for \(target)")
        let r = try run(Tools.buildDir + "/flavor-fuzz", [target, "--replay", base + "/Corpus/" + target, base + "/Regressions/" + target])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("no failure"), "\(r.output)")
    }

    @Test("the replay fails on an input it cannot read and on an unknown target, listing the targets")
    func replayErrors() throws {
        let r = try run(Tools.buildDir + "/flavor-fuzz", ["json", "--replay", "/nonexistent/flavor-fuzz-input"])
        #expect(r.status == 2 && r.stderr.contains("cannot read"), "\(r.output)")
        let u = try run(Tools.buildDir + "/flavor-fuzz", ["no-such-target"])
        #expect(u.status == 2 && u.stderr.contains("targets:") && u.stderr.contains("decoders"), "\(u.output)")
    }
}
