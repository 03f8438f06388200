import Foundation
import Testing

/// A config home for one test: user config, system config (FLAVOR_SYSTEM_CONFIG_DIR) and cache
/// all inside it, so nothing reads or writes the machine's /etc/flavor or ~/.config.
struct ConfigHome {
    let dir: TempDir
    init() { dir = TempDir("flavor-trust") }
    var user: String { dir.sub("home/.config/flavor") }
    var system: String { dir.sub("etc") }
    var env: [String: String] {
        ["HOME": dir.sub("home"), "FLAVOR_SYSTEM_CONFIG_DIR": system, "FLAVOR_CACHE_DIR": dir.sub("cache"), "MARKER": dir.sub("ran")]
    }
    var ran: Bool { FileManager.default.fileExists(atPath: dir.sub("ran")) }

    func writePolicy(_ json: String, system: Bool = false) throws {
        let root = system ? self.system : user
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try json.write(toFile: root + "/policy.json", atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: dir.sub("ran"))
    }

    func flavor(_ args: [String]) throws -> RunResult { try run(Tools.flavor, args, env: env) }
}

/// The demo app signed with a key pair from `flavor keygen`; returns (package, public key file).
func signedDemo(_ app: DemoApp, keyDir: String? = nil) throws -> (String, String) {
    let keys = keyDir ?? app.dir.sub("keys")
    if keyDir == nil { try #require(try run(Tools.flavor, ["keygen", "--out-dir", keys, "-q"]).status == 0) }
    let pkg = app.dir.sub("demo.psp")
    let r = try run(Tools.flavor, ["pack", "--manifest", try app.manifest(), "--output", pkg, "--launcher-bin", Tools.launcher,
                                   "--private-key", keys + "/flavor-private.key", "--public-key", keys + "/flavor-public.key", "-q"])
    try #require(r.status == 0, "\(r.output)")
    return (pkg, keys + "/flavor-public.key")
}

func fingerprint(ofPackage pkg: String) throws -> String {
    let j = try JSONSerialization.jsonObject(with: Data(try run(Tools.flavor, ["inspect", "--json", pkg]).stdout.utf8)) as? [String: Any]
    return try #require(j?["key_fingerprint"] as? String)
}

@Suite("trusted keys: flavor trust add/list/remove/verify")
struct TrustCommandTests {
    @Test("add writes <fp16>.pub with its label, list and verify see it, remove by a 16-digit prefix takes it away")
    func roundTrip() throws {
        let app = try DemoApp(), home = ConfigHome()
        let (pkg, pub) = try signedDemo(app)
        let fp = try fingerprint(ofPackage: pkg)
        var r = try home.flavor(["trust", "verify", pkg])
        #expect(r.status == 1 && r.stderr.contains(fp) && r.stderr.contains("no trusted-keys store"), "\(r.output)")
        r = try home.flavor(["trust", "add", pub, "--name", "Demo Publisher", "--json"])
        #expect(r.status == 0, "\(r.output)")
        let file = home.user + "/trusted-keys/\(fp.prefix(16)).pub"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("# Name: Demo Publisher\n-----BEGIN PUBLIC KEY-----\n") && text.hasSuffix("-----END PUBLIC KEY-----\n"), "\(text)")
        r = try home.flavor(["trust", "list"])
        #expect(r.stdout == "  \(fp)  Demo Publisher\n", "\(r.output)")
        let list = try JSONSerialization.jsonObject(with: Data(try home.flavor(["trust", "list", "--json"]).stdout.utf8)) as? [String: Any]
        let keys = list?["keys"] as? [[String: Any]] ?? []
        #expect(keys.count == 1 && keys.first?["fingerprint"] as? String == fp && keys.first?["path"] as? String == file)
        r = try home.flavor(["trust", "verify", pkg])
        #expect(r.status == 0 && r.stdout.contains("trusted key \(fp.prefix(16))") && r.stdout.contains("Demo Publisher"), "\(r.output)")
        // Too short, unknown, then the real prefix.
        #expect(try home.flavor(["trust", "remove", String(fp.prefix(8))]).status == 1)
        #expect(try home.flavor(["trust", "remove", String(repeating: "0", count: 64)]).stderr.contains("no trusted key"))
        r = try home.flavor(["trust", "remove", String(fp.prefix(16))])
        #expect(r.status == 0 && !FileManager.default.fileExists(atPath: file), "\(r.output)")
        #expect(try home.flavor(["trust", "verify", pkg]).status == 1)
    }

    @Test("a store file that is not a key is skipped with a warning naming it; the other keys still count")
    func badFileSkipped() throws {
        let app = try DemoApp(), home = ConfigHome()
        let (pkg, pub) = try signedDemo(app)
        #expect(try home.flavor(["trust", "add", pub]).status == 0)
        try home.dir.write("home/.config/flavor/trusted-keys/broken.pub", "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n")
        let r = try home.flavor(["trust", "verify", pkg])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stderr.contains("broken.pub") && r.stderr.contains("base64"), "\(r.stderr)")
    }

    @Test("trust add refuses a private key and a file that is not PEM, naming the file; nothing is written")
    func addRefusesNonKeys() throws {
        let app = try DemoApp(), home = ConfigHome()
        let (_, pub) = try signedDemo(app)
        let priv = pub.replacingOccurrences(of: "flavor-public.key", with: "flavor-private.key")
        for bad in [priv, app.dir.sub("src/show.sh")] {
            let r = try home.flavor(["trust", "add", bad])
            #expect(r.status == 1 && r.stderr.contains(bad), "\(r.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: home.user + "/trusted-keys"))
    }
}

@Suite("operator policy: flavor policy/init and what every launch enforces")
struct PolicyTests {
    static let requireKey = #"{"version": 1, "trust": {"require_trusted_key": true}}"#

    @Test("require_trusted_key: an untrusted key is refused (exit 111) naming its fingerprint and `flavor trust add`; trusted, it runs")
    func requireTrustedKey() throws {
        let app = try DemoApp(), home = ConfigHome()
        let (pkg, pub) = try signedDemo(app)
        let fp = try fingerprint(ofPackage: pkg)
        #expect(try home.flavor(["init"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: home.user + "/trusted-keys"))
        try home.writePolicy(Self.requireKey)
        var r = try run(pkg, ["x"], env: home.env)
        #expect(r.status == 111, "\(r.output)")
        #expect(r.stderr.contains(fp) && r.stderr.contains("flavor trust add") && r.stderr.contains(home.user + "/policy.json"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(!home.ran)
        #expect(!FileManager.default.fileExists(atPath: home.dir.sub("cache/workenv")), "nothing is extracted for a refused launch")
        #expect(try home.flavor(["policy", "check", pkg]).status == 111)
        #expect(try home.flavor(["trust", "add", pub]).status == 0)
        r = try run(pkg, ["x"], env: home.env)
        #expect(r.status == 0 && r.stdout.contains("args:x") && home.ran, "\(r.output)")
        #expect(try home.flavor(["policy", "check", pkg]).status == 0)
        // A key in the system store is trusted too.
        #expect(try home.flavor(["trust", "remove", fp]).status == 0)
        #expect(try run(pkg, [], env: home.env).status == 111)
        #expect(try home.flavor(["trust", "add", "--global", pub]).status == 0)
        #expect(FileManager.default.fileExists(atPath: home.system + "/trusted-keys/\(fp.prefix(16)).pub"))
        #expect(try run(pkg, [], env: home.env).status == 0)
    }

    @Test("enforcement modes: warn runs with one warning line, allow runs silently, deny refuses", arguments: ["deny", "warn", "allow"])
    func modes(_ mode: String) throws {
        let app = try DemoApp(), home = ConfigHome()
        let (pkg, _) = try signedDemo(app)
        try home.writePolicy(#"{"version": 1, "execution": {"allow_platforms": ["darwin_arm64"]}, "enforcement": {"platform_mismatch": "\#(mode)"}}"#)
        let r = try run(pkg, ["x"], env: home.env)
        switch mode {
        case "deny":
            #expect(r.status == 111 && r.stderr.contains("platform not permitted: linux_amd64") && !home.ran, "\(r.output)")
        case "warn":
            #expect(r.status == 0 && home.ran && r.stderr.contains("policy warning: platform not permitted"), "\(r.output)")
        default:
            #expect(r.status == 0 && home.ran && !r.stderr.contains("policy"), "\(r.output)")
        }
    }

    @Test("the user's policy overrides the system's key by key, and enforcement merges per check")
    func systemAndUserMerge() throws {
        let app = try DemoApp(), home = ConfigHome()
        let (pkg, _) = try signedDemo(app)
        try home.writePolicy(#"{"version": 1, "trust": {"require_trusted_key": true}, "execution": {"allow_platforms": ["darwin_arm64"]}}"#, system: true)
        try home.writePolicy(#"{"version": 1, "enforcement": {"untrusted_key": "warn"}, "execution": {"allow_platforms": ["linux_amd64", "linux_arm64"]}}"#)
        let r = try run(pkg, ["x"], env: home.env)
        #expect(r.status == 0 && home.ran, "\(r.output)")
        #expect(r.stderr.contains("policy warning: operator policy requires a trusted signing key"), "\(r.stderr)")
        let show = try JSONSerialization.jsonObject(with: Data(try home.flavor(["policy", "show", "--json"]).stdout.utf8)) as? [String: Any]
        #expect((show?["files"] as? [String])?.count == 2)
        #expect((show?["trust"] as? [String: Any])?["require_trusted_key"] as? Bool == true)
        #expect((show?["enforcement"] as? [String: Any])?["untrusted_key"] as? String == "warn")
        #expect((show?["execution"] as? [String: Any])?["allow_platforms"] as? [String] == ["linux_amd64", "linux_arm64"])
    }

    @Test("refuse_root refuses a launch as root", .enabled(if: getuid() == 0, "needs root"))
    func refuseRoot() throws {
        let app = try DemoApp(), home = ConfigHome()
        let (pkg, _) = try signedDemo(app)
        try home.writePolicy(#"{"version": 1, "execution": {"refuse_root": true}}"#)
        let r = try run(pkg, [], env: home.env)
        #expect(r.status == 111 && r.stderr.contains("refused to run as root") && !home.ran, "\(r.output)")
    }

    @Test("a broken policy file stops every launch with the file and the reason (exit 109); flavor policy show says the same",
          arguments: [
            (#"{"trust": {"require_trusted_key": true}}"#, "missing required \"version\""),
            (#"{"version": 1, "trust": {"require_trusted_keys": true}}"#, "unknown policy key \"trust.require_trusted_keys\""),
            (#"{"version": 1, "trust": {"require_trusted_key": "yes"}}"#, "trust.require_trusted_key must be true or false"),
            (#"{"version": 1, "enforcement": {"default": "block"}}"#, "enforcement.default must be \"deny\", \"warn\" or \"allow\""),
            (#"{"version": 1, "execution": {"max_age_days": -3}}"#, "execution.max_age_days must be a whole number"),
            (#"{"version": 1,"#, "invalid policy file"),
          ])
    func brokenPolicy(_ json: String, _ why: String) throws {
        let app = try DemoApp(), home = ConfigHome()
        let (pkg, _) = try signedDemo(app)
        try home.writePolicy(json)
        let r = try run(pkg, [], env: home.env)
        #expect(r.status == 109 && r.stderr.contains(home.user + "/policy.json") && r.stderr.contains(why) && !home.ran, "\(r.output)")
        let show = try home.flavor(["policy", "show"])
        #expect(show.status == 1 && show.stderr.contains(why), "\(show.output)")
    }

    @Test("a newer policy version is read with a warning, its unknown keys ignored")
    func newerVersion() throws {
        let app = try DemoApp(), home = ConfigHome()
        let (pkg, _) = try signedDemo(app)
        try home.writePolicy(#"{"version": 2, "trust": {"future_knob": 1}, "execution": {"allow_platforms": ["linux_amd64", "linux_arm64"]}}"#)
        let r = try run(pkg, ["x"], env: home.env)
        #expect(r.status == 0 && home.ran && r.stderr.contains("policy version 2"), "\(r.output)")
    }

    @Test("policy init writes a scaffold that enforces nothing and keeps an existing file; show and check read it")
    func initAndShow() throws {
        let app = try DemoApp(), home = ConfigHome()
        let (pkg, _) = try signedDemo(app)
        var r = try home.flavor(["policy", "init"])
        #expect(r.status == 0 && r.stdout.contains("written"), "\(r.output)")
        let text = try String(contentsOfFile: home.user + "/policy.json", encoding: .utf8)
        let j = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(j?["version"] as? Int == 1 && (j?["trust"] as? [String: Any])?["require_trusted_key"] as? Bool == false)
        try home.writePolicy(Self.requireKey)
        r = try home.flavor(["policy", "init"])
        let kept = try String(contentsOfFile: home.user + "/policy.json", encoding: .utf8)
        #expect(r.stdout.contains("already exists") && kept == Self.requireKey)
        r = try home.flavor(["policy", "show"])
        #expect(r.status == 0 && r.stdout.contains("require_trusted_key = true"), "\(r.output)")
        r = try home.flavor(["policy", "check", "--json", pkg])
        let c = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(r.status == 111 && c?["allowed"] as? Bool == false)
        #expect((c?["findings"] as? [[String: Any]])?.first?["check"] as? String == "untrusted_key")
    }

    @Test("a package's own policy (manifest \"policy\"): signed, hashed into the index, and enforced with the operator's")
    func packagePolicy() throws {
        let app = try DemoApp(), home = ConfigHome()
        let pkg = try flavorPack(try app.manifest(extra: #", "policy": {"require_env": ["DEMO_TOKEN"], "platforms": ["linux_amd64", "linux_arm64"]}"#),
                                 app.dir.sub("demo.psp"))
        #expect(try run(Tools.flavor, ["verify", pkg]).status == 0)
        var r = try run(pkg, ["x"], env: home.env)
        #expect(r.status == 111 && r.stderr.contains("required environment variable not set: DEMO_TOKEN") && !home.ran, "\(r.output)")
        r = try run(pkg, ["x"], env: home.env.merging(["DEMO_TOKEN": "t"]) { $1 })
        #expect(r.status == 0 && home.ran, "\(r.output)")
        // The operator's platforms and the package's must both allow the host.
        try home.writePolicy(#"{"version": 1, "execution": {"allow_platforms": ["darwin_arm64"]}}"#)
        r = try run(pkg, ["x"], env: home.env.merging(["DEMO_TOKEN": "t"]) { $1 })
        #expect(r.status == 111 && r.stderr.contains("platform not permitted"), "\(r.output)")
        // pspfdump.py (the independent reader) agrees with the signed bytes.
        let dump = try run("/usr/bin/env", ["python3", Tools.pspfdump, pkg])
        #expect(dump.status == 0, "\(dump.output)")
    }

    @Test("a manifest policy with a wrong-typed key is refused at pack time, naming the manifest")
    func badManifestPolicy() throws {
        let app = try DemoApp()
        let m = try app.manifest(extra: #", "policy": {"refuse_root": "yes"}"#)
        let r = try run(Tools.flavor, ["pack", "--manifest", m, "--output", app.dir.sub("x.psp"), "--launcher-bin", Tools.launcher, "--key-seed", "s", "-q"])
        #expect(r.status == 1 && r.stderr.contains(m) && r.stderr.contains("refuse_root"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("x.psp")))
    }

    @Test("a changed policy hash in the index is an integrity failure")
    func policyHashTamper() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(extra: #", "policy": {"refuse_root": false}"#), app.dir.sub("demo.psp"))
        var bytes = try readBytes(pkg)
        let index = bytes.count - 8196   // the index block follows the 4-byte 📦 magic
        bytes[index + 1504] = bytes[index + 1504] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        // Re-seal the index checksum (Adler-32 at offset 4 with that field zeroed) so only the hash is wrong.
        try writeBytes(app.dir.sub("bad.psp"), resealedIndex(bytes))
        let r = try run(Tools.flavor, ["verify", app.dir.sub("bad.psp")])
        #expect(r.status == 1 && r.stderr.contains("policy-hash"), "\(r.output)")
    }
}

/// `bytes` with the index block's Adler-32 recomputed (spec §3: over the index with the field zeroed).
func resealedIndex(_ bytes: [UInt8]) -> [UInt8] {
    var b = bytes
    let start = b.count - 8196
    for k in 0..<4 { b[start + 4 + k] = 0 }
    var a: UInt32 = 1, s: UInt32 = 0
    for k in 0..<8192 { a = (a + UInt32(b[start + k])) % 65521; s = (s + a) % 65521 }
    let sum = s << 16 | a
    for k in 0..<4 { b[start + 4 + k] = UInt8(truncatingIfNeeded: sum >> (8 * UInt32(k))) }
    return b
}

/// Upstream's own tools with our store and policy: keys from upstream's `flavor keygen` and
/// `trust add`, and upstream's launchers reading the files `flavor trust add` writes.
@Suite("trust and policy interop with upstream flavorpack 0.5.4", .enabled(if: Tools.interopEnabled, "upstream helpers not fetched (scripts/fetch-upstream)"))
struct TrustInteropTests {
    /// upstream's Python `flavor`, from scripts/fetch-python-peers (scripts/test runs it).
    static var upstreamCLI: String? {
        let p = Tools.repoRoot + "/.cache/python-peers/flavorpack-venv/bin/flavor"
        return FileManager.default.isExecutableFile(atPath: p) ? p : nil
    }

    @Test("upstream's rs and go launchers run a package under require_trusted_key once `flavor trust add` stored its key", arguments: ["rs", "go"])
    func upstreamLauncherReadsOurStore(_ flavorOf: String) throws {
        let app = try DemoApp(), home = ConfigHome()
        let keys = app.dir.sub("keys")
        #expect(try run(Tools.flavor, ["keygen", "--out-dir", keys, "-q"]).status == 0)
        let pkg = app.dir.sub("up.psp")
        // Upstream builders store sources as given: the tree goes in as a .tar.gz.
        let m = try app.manifest(treeSource: try app.treeTarball())
        let b = try run(try Tools.upstream("flavor-\(flavorOf)-builder"), ["--manifest", m, "--output", pkg,
                        "--launcher-bin", try Tools.upstream("flavor-\(flavorOf)-launcher"),
                        "--private-key", keys + "/flavor-private.key", "--public-key", keys + "/flavor-public.key"],
                        env: home.env, cwd: app.dir.path)
        try #require(b.status == 0, "\(b.output)")
        try home.writePolicy(PolicyTests.requireKey)
        var r = try run(pkg, ["x"], env: home.env)
        #expect(r.status != 0 && !home.ran, "upstream refuses an untrusted key: \(r.output)")
        #expect(try home.flavor(["trust", "add", keys + "/flavor-public.key", "--name", "ours"]).status == 0)
        r = try run(pkg, ["x"], env: home.env)
        #expect(r.status == 0 && home.ran, "\(r.output)")
        // Our CLI reads the upstream-built package's key and policy the same way.
        #expect(try home.flavor(["trust", "verify", pkg]).status == 0)
        #expect(try home.flavor(["policy", "check", pkg]).status == 0)
    }

    @Test("keys from upstream's `flavor keygen` and files from its `trust add` are trusted by our launcher",
          .enabled(if: upstreamCLI != nil || Tools.interopRequired, "upstream's Python flavor not installed (scripts/fetch-python-peers)"))
    func upstreamKeysAndStore() throws {
        let cli = try #require(Self.upstreamCLI, "run scripts/fetch-python-peers")
        let app = try DemoApp(), home = ConfigHome()
        let keys = app.dir.sub("upkeys")
        let g = try run(cli, ["keygen", "--out-dir", keys], env: home.env)
        try #require(g.status == 0, "\(g.output)")
        let (pkg, pub) = try signedDemo(app, keyDir: keys)
        try home.writePolicy(PolicyTests.requireKey)
        #expect(try run(pkg, [], env: home.env).status == 111)
        let a = try run(cli, ["trust", "add", pub, "--name", "upstream"], env: home.env)
        try #require(a.status == 0, "\(a.output)")
        let r = try run(pkg, ["x"], env: home.env)
        #expect(r.status == 0 && home.ran, "\(r.output)")
        #expect(try home.flavor(["trust", "list"]).stdout.contains("upstream"))
    }
}
