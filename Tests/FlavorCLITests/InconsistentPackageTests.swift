import Foundation
import Testing

/// Packages whose slot table and metadata disagree, or whose descriptors lie, at every
/// FLAVOR_VALIDATION level: a clear error and a non-zero exit, never a trap (a signal), never the
/// payload run, no workenv left. Levels below strict skip the checksums, not the bounds.
@Suite("slot table and metadata that disagree: an error at every validation level, never a trap")
struct InconsistentPackageTests {
    static let hello: Result<String, Error> = Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-incons-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = dir + "/hello.psp"
        let r = try run(Tools.flavor, ["pack", "--manifest", Tools.repoRoot + "/examples/hello/manifest.json", "--output", out,
                                       "--launcher-bin", Tools.launcher, "--key-seed", "incons"])
        try #require(r.status == 0, "\(r.output)")
        return out
    }

    enum Damage: String, CaseIterable, CustomStringConvertible {
        case fewerDescriptors, noDescriptors, moreDescriptors, slotPastEOF, hugeSlotSize
        var description: String { rawValue }
        /// What the error must say.
        var message: String {
            switch self {
            case .fewerDescriptors, .noDescriptors, .moreDescriptors: return "slot table has"
            case .slotPastEOF, .hugeSlotSize: return "lies outside the file"
            }
        }
    }

    func damaged(_ d: Damage) throws -> String {
        var b = try readBytes(try Self.hello.get())
        let idx = b.count - 8196, table = Int(le64(b, idx + 40))
        func put64(_ v: UInt64, _ o: Int) { for k in 0..<8 { b[o + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) } }
        func put32(_ v: UInt32, _ o: Int) { for k in 0..<4 { b[o + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) } }
        switch d {
        case .fewerDescriptors: put32(1, idx + 56); put64(64, idx + 48)
        case .noDescriptors: put32(0, idx + 56); put64(0, idx + 48)
        case .moreDescriptors: put32(5, idx + 56); put64(320, idx + 48)
        case .slotPastEOF: put64(UInt64(b.count + 100), table + 64 + 16)
        case .hugeSlotSize: put64(1 << 63, table + 64 + 24)
        }
        // One file per test case: cases run in parallel, and writing a file another one executes fails.
        let out = try Self.hello.get().replacingOccurrences(of: "hello.psp", with: "\(d)-\(UUID().uuidString.prefix(8)).psp")
        try writeBytes(out, b)
        chmod(out, 0o755)
        return out
    }

    @Test("the launcher", arguments: Damage.allCases, ["strict", "standard", "relaxed", "minimal", "none"])
    func launcher(_ d: Damage, _ level: String) throws {
        let pkg = try damaged(d)
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-incons-c-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let r = try run(pkg, ["x"], env: ["FLAVOR_CACHE_DIR": cache, "FLAVOR_VALIDATION": level])
        #expect(r.status > 0 && r.status < 128, "\(d) at \(level): status \(r.status): \(r.output)")
        #expect(!r.stdout.contains("hello from"), "\(d) at \(level) ran the payload: \(r.output)")
        // strict and standard may name the failed checksum first; below them the bounds must speak.
        if level != "strict" && level != "standard" { #expect(r.stderr.contains(d.message), "\(d) at \(level): \(r.stderr)") }
        let stem = ((pkg as NSString).lastPathComponent as NSString).deletingPathExtension
        #expect(!FileManager.default.fileExists(atPath: cache + "/workenv/\(stem)/bin"), "\(d) at \(level): a workenv was made")
    }

    @Test("flavor verify, inspect, inspect --json and extract-all", arguments: Damage.allCases, [["verify"], ["inspect"], ["inspect", "--json"], ["extract-all"]])
    func cli(_ d: Damage, _ command: [String]) throws {
        let pkg = try damaged(d)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-incons-x-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try run(Tools.flavor, command + [pkg] + (command == ["extract-all"] ? [out] : []))
        #expect(r.status < 128, "\(d) \(command): status \(r.status) (a trap): \(r.output)")
        if command[0] != "inspect" { #expect(r.status != 0, "\(d) \(command): \(r.output)") }
        #expect(!FileManager.default.fileExists(atPath: out + "/bin"))
    }
}
