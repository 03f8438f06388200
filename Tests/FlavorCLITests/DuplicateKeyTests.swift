import Foundation
import Testing
import FlavorBuild
import FlavorEngine
import FlavorFormat
import FlavorSys

/// One signed file, two meanings: a metadata JSON with a second top-level `execution` (its command
/// different) is read one way by a reader that takes the first member and another by one that takes
/// the last. The package below is validly signed (the JSON was signed as it is), so only the JSON
/// reader can refuse it, and every reader must: launcher, verify, inspect, extract.
@Suite("a signed package whose metadata has a duplicate key is refused by every reader")
struct DuplicateKeyTests {
    static let crafted: Result<String, Error> = Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-dup-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let options = Manifest.Options(launcherPath: Tools.launcher, key: Ed25519.keyPair(seedString: "dup"), deterministic: true)
        var plan = try Manifest.load(path: Tools.repoRoot + "/examples/hello/manifest.json", options: options)
        plan.extraMetadata.append(("execution", .object([("command", .string("/bin/echo PWNED")), ("env", .object([]))])))
        let out = dir + "/hello.psp"
        _ = try Packer.pack(plan, to: out, settings: Settings(lookup: { _ in nil }))
        return out
    }

    @Test("the package really holds two top-level execution members (checked with Python's json)")
    func craftedAsIntended() throws {
        let pkg = try Self.crafted.get()
        let code = """
            import gzip, json, struct, sys
            b = open(sys.argv[1], "rb").read(); i = len(b) - 8196
            off, size = struct.unpack_from("<QQ", b, i + 24)
            pairs = json.loads(gzip.decompress(b[off:off + size]), object_pairs_hook=lambda p: p)
            print(sum(1 for k, _ in pairs if k == "execution"))
            """
        let r = try run("/usr/bin/env", ["python3", "-c", code, pkg])
        #expect(r.status == 0 && r.stdout == "2\n", "\(r.output)")
    }

    @Test("flavor verify, inspect and extract-all refuse it, naming the duplicate key", arguments: [
        ["verify"], ["inspect"], ["inspect", "--json"], ["extract-all"],
    ])
    func cliReaders(_ command: [String]) throws {
        let pkg = try Self.crafted.get()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-dup-x-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try run(Tools.flavor, command + [pkg] + (command == ["extract-all"] ? [out] : []))
        #expect(r.status != 0, "\(r.output)")
        #expect(r.output.contains("duplicate key \"execution\""), "\(r.output)")
        #expect(!r.output.contains("PWNED"))
        #expect(!FileManager.default.fileExists(atPath: out + "/bin"))
    }

    @Test("the launcher refuses it at every validation level and runs nothing", arguments: ["strict", "standard", "relaxed", "minimal", "none"])
    func launcher(_ level: String) throws {
        let pkg = try Self.crafted.get()
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-dup-c-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let r = try run(pkg, ["arg"], env: ["FLAVOR_CACHE_DIR": cache, "FLAVOR_VALIDATION": level])
        #expect(r.status != 0, "\(r.output)")
        #expect(r.stderr.contains("duplicate key \"execution\""), "\(r.output)")
        #expect(!r.stdout.contains("PWNED") && !r.stdout.contains("hello from"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: cache + "/workenv/hello"))
    }
}
