import Foundation
import FlavorFormat
import Testing

@Suite("flavor CLI: pack, verify, inspect, extract, keygen")
struct CLITests {
    @Test("--help lists every subcommand and pack --help explains the key flags")
    func help() throws {
        let top = try run(Tools.flavor, ["--help"])
        #expect(top.status == 0)
        for c in ["pack", "verify", "inspect", "extract", "extract-all", "keygen", "workenv"] { #expect(top.stdout.contains(c)) }
        let pack = try run(Tools.flavor, ["pack", "--help"])
        #expect(pack.stdout.contains("--key-seed") && pack.stdout.contains("--launcher-bin") && pack.stdout.contains("SOURCE_DATE_EPOCH"))
    }

    @Test("a packed package verifies, and every check is reported as passed in --json")
    func packAndVerify() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let r = try run(Tools.flavor, ["verify", "--json", pkg])
        #expect(r.status == 0, "\(r.output)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["valid"] as? Bool == true)
        let checks = json?["checks"] as? [[String: Any]] ?? []
        let names = Set(checks.compactMap { $0["check"] as? String })
        for n in ["index-checksum", "metadata-checksum", "signature", "slot-descriptor-checksum", "slot-signed-checksum"] {
            #expect(names.contains(n))
        }
        #expect(checks.allSatisfy { $0["passed"] as? Bool == true })
    }

    @Test("two packs with the same seed and SOURCE_DATE_EPOCH are byte-identical")
    func deterministic() throws {
        let app = try DemoApp()
        let m = try app.manifest()
        let env = ["SOURCE_DATE_EPOCH": "1700000000"]
        let a = try flavorPack(m, app.dir.sub("a.psp"), env: env)
        let b = try flavorPack(m, app.dir.sub("b.psp"), env: env)
        #expect(try readBytes(a) == readBytes(b))
        // And the timestamp really comes from SOURCE_DATE_EPOCH.
        let meta = try run(Tools.flavor, ["inspect", "--json", a])
        #expect(meta.status == 0)
        let c = try flavorPack(m, app.dir.sub("c.psp"), env: ["SOURCE_DATE_EPOCH": "1700000001"])
        #expect(try readBytes(a) != readBytes(c))
    }

    @Test("verify exits 1 and names the failing check for each tampered region", arguments: Tamper.allCases)
    func tamperedVerify(_ t: Tamper) throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let bad = app.dir.sub("bad.psp")
        try t.apply(pkg, bad)
        let r = try run(Tools.flavor, ["verify", bad])
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains(t.failingCheck), "stderr: \(r.stderr)")
        let j = try run(Tools.flavor, ["verify", "--json", bad])
        let json = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        let failed = (json?["checks"] as? [[String: Any]] ?? []).filter { $0["passed"] as? Bool == false }.compactMap { $0["check"] as? String }
        #expect(failed.contains(t.failingCheck))
        if t == .forgedSlotAndDescriptor { #expect(!failed.contains("slot-descriptor-checksum")) }
    }

    @Test("verify exits 2 for a file that is not a package, and for a missing file")
    func notAPackage() throws {
        let d = TempDir()
        try d.write("junk.bin", String(repeating: "x", count: 10_000))
        let r = try run(Tools.flavor, ["verify", d.sub("junk.bin")])
        #expect(r.status == 2)
        #expect(r.stderr.contains("not a PSPF/2025 package"))
        #expect(try run(Tools.flavor, ["verify", d.sub("missing.psp")]).status == 2)
    }

    @Test("a truncated package is refused without a crash")
    func truncated() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let b = try readBytes(pkg)
        for cut in [1, 100, 8200, b.count / 2] {
            try writeBytes(app.dir.sub("t.psp"), Array(b[0..<(b.count - cut)]))
            let r = try run(Tools.flavor, ["verify", app.dir.sub("t.psp")])
            #expect(r.status == 1 || r.status == 2, "cut \(cut): \(r.output)")
        }
    }

    @Test("inspect --json gives package, slots with sizes and operations, command and key fingerprint")
    func inspectJSON() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let r = try run(Tools.flavor, ["inspect", "--json", pkg])
        #expect(r.status == 0)
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect((j["package"] as? [String: Any])?["name"] as? String == "demo")
        #expect(j["command"] as? String == "{workenv}/bin/show.sh")
        // test-seed's public key fingerprint (spec §3 verified example).
        let pub = bytes(fromHex: "3cf9469205ba8dfccfd606c3eef6550016852c61d1e3594e2058433e841c98c9") ?? []
        let fp = j["key_fingerprint"] as? String ?? ""
        #expect(fp == hex(bytes: sha256(pub)) && fp.hasPrefix("5a63bfc4") && fp.hasSuffix("c059"))
        let slots = try #require(j["slots"] as? [[String: Any]])
        #expect(slots.map { $0["id"] as? String } == ["show", "tree", "_attestation"])
        #expect(slots[0]["operations"] as? String == "none")
        #expect(slots[1]["operations"] as? String == "tgz")
        #expect((slots[1]["size"] as? Int ?? 0) < (slots[1]["original_size"] as? Int ?? 0))
    }

    @Test("extract-all reproduces the source tree under the slot targets", arguments: IOVariant.allCases)
    func extractAll(_ io: IOVariant) throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let out = app.dir.sub("out")
        let r = try run(Tools.flavor, ["extract-all", pkg, out], env: io.env)
        #expect(r.status == 0, "\(r.output)")
        let diff = try run("/usr/bin/diff", ["-r", app.dir.sub("tree/data"), out + "/data"])
        #expect(diff.status == 0, "\(diff.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/bin/show.sh")) == Data(contentsOf: URL(fileURLWithPath: app.dir.sub("src/show.sh"))))
        let mode = try FileManager.default.attributesOfItem(atPath: out + "/data/run.sh")[.posixPermissions] as? Int
        #expect(mode == 0o755)
        // A second extract into the now non-empty directory is refused without --force.
        let again = try run(Tools.flavor, ["extract-all", pkg, out])
        #expect(again.status == 1 && again.stderr.contains("not empty"))
        #expect(try run(Tools.flavor, ["extract-all", "--force", pkg, out]).status == 0)
    }

    @Test("extract takes a slot by id or index and refuses an unknown one")
    func extractOne() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        #expect(try run(Tools.flavor, ["extract", pkg, "show", app.dir.sub("o1")]).status == 0)
        #expect(FileManager.default.fileExists(atPath: app.dir.sub("o1/bin/show.sh")))
        #expect(try run(Tools.flavor, ["extract", pkg, "1", app.dir.sub("o2")]).status == 0)
        #expect(FileManager.default.fileExists(atPath: app.dir.sub("o2/data/nested/b.txt")))
        let bad = try run(Tools.flavor, ["extract", pkg, "nope", app.dir.sub("o3")])
        #expect(bad.status == 1 && bad.stderr.contains("no slot"))
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("o3")))
    }

    @Test("a tar slot with a path-traversal member is refused and nothing is left behind",
          arguments: ["../escape.txt", "/tmp/abs-escape.txt", "a/../../escape.txt"], ["tar", "tgz", "tgz-streamed"])
    func traversal(_ member: String, _ ops: String) throws {
        let d = TempDir()
        // A hostile tar built by GNU tar itself (--transform keeps the bytes honest).
        try d.write("payload/x.txt", "evil\n")
        let tarPath = d.sub("evil.tar")
        let t = try run("/bin/tar", ["-cf", tarPath, "-C", d.sub("payload"), "--transform", "s|^x.txt$|\(member)|", "-P", "x.txt"])
        try #require(t.status == 0, "\(t.output)")
        if ops != "tar" { try #require(try run("/bin/gzip", ["-k", tarPath]).status == 0) }
        try d.write("m.json", """
            {"package": {"name": "evil", "version": "1"}, "execution": {"command": "/bin/true"},
             "slots": [{"id": "evil", "source": "\(ops == "tar" ? tarPath : tarPath + ".gz")", "target": "{workenv}", "operations": "\(ops == "tar" ? "tar" : "tgz")"}]}
            """)
        let pkg = try flavorPack(d.sub("m.json"), d.sub("evil.psp"))
        let out = d.sub("out")
        let r = try run(Tools.flavor, ["extract-all", pkg, out], env: ops == "tgz-streamed" ? ["FLAVOR_STREAM_THRESHOLD": "0"] : [:])
        #expect(r.status == 1)
        #expect(r.stderr.contains("refused"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(!FileManager.default.fileExists(atPath: d.sub("escape.txt")))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/abs-escape.txt"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: d.path).filter { $0.hasPrefix("out") }
        #expect(leftovers.isEmpty)
    }

    @Test("keygen writes PKCS#8/SPKI PEM files (private 0600) that pack accepts")
    func keygen() throws {
        let d = TempDir()
        let r = try run(Tools.flavor, ["keygen", "--out-dir", d.sub("keys"), "--json"])
        #expect(r.status == 0)
        let priv = d.sub("keys/flavor-private.key"), pub = d.sub("keys/flavor-public.key")
        let mode = try FileManager.default.attributesOfItem(atPath: priv)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let pem = try String(contentsOfFile: priv, encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let der = Data(base64Encoded: pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()) ?? Data()
        #expect(der.count == 48 && Array(der.prefix(16)) == [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
        // Refuses to overwrite.
        #expect(try run(Tools.flavor, ["keygen", "--out-dir", d.sub("keys")]).status == 1)
        let app = try DemoApp()
        let p = try run(Tools.flavor, ["pack", "--manifest", try app.manifest(), "--output", d.sub("k.psp"), "--launcher-bin", Tools.launcher,
                                       "--private-key", priv, "--public-key", pub, "-q"])
        #expect(p.status == 0, "\(p.output)")
        let fp = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["fingerprint"] as? String
        let inspect = try JSONSerialization.jsonObject(with: Data(try run(Tools.flavor, ["inspect", "--json", d.sub("k.psp")]).stdout.utf8)) as? [String: Any]
        #expect(fp != nil && inspect?["key_fingerprint"] as? String == fp)
    }

    @Test("malformed manifests are refused with the file and the reason", arguments: [
        ("{", "invalid manifest JSON"),
        ("{\"package\": {\"name\": \"x\"}, \"execution\": {\"command\": \"a\"}}", "package.version"),
        ("{\"package\": {\"name\": \"x\", \"version\": \"1\"}}", "execution.command"),
        ("{\"package\": {\"name\": \"x\", \"version\": \"1\"}, \"execution\": {\"command\": \"a\"}, \"slots\": [{\"id\": \"s\", \"source\": \"nope\", \"target\": \"t\"}]}", "does not exist"),
        ("{\"package\": {\"name\": \"x\", \"version\": \"1\"}, \"execution\": {\"command\": \"a\"}, \"slots\": [{\"slot\": 3, \"id\": \"s\", \"source\": \"m.json\", \"target\": \"t\"}]}", "must equal"),
        ("{\"package\": {\"name\": \"x\", \"version\": \"1\"}, \"execution\": {\"command\": \"a\"}, \"slots\": [{\"id\": \"s\", \"source\": \"m.json\", \"target\": \"t\", \"operations\": \"lzma\"}]}", "unknown operation"),
        // A file source is stored as given: bytes that are not what its operations say are refused.
        ("{\"package\": {\"name\": \"x\", \"version\": \"1\"}, \"execution\": {\"command\": \"a\"}, \"slots\": [{\"id\": \"s\", \"source\": \"m.json\", \"target\": \"t\", \"operations\": \"tgz\"}]}", "is not gzip data"),
        ("{\"package\": {\"name\": \"x\", \"version\": \"1\"}, \"execution\": {\"command\": \"a\"}, \"slots\": [{\"id\": \"s\", \"source\": \"m.json\", \"target\": \"t\", \"operations\": \"zstd\"}]}", "is not zstd data"),
        ("{\"package\": {\"name\": \"x\", \"version\": \"1\"}, \"execution\": {\"command\": \"a\"}, \"slots\": [{\"id\": \"s\", \"source\": \"m.json\", \"target\": \"t\", \"operations\": \"tar\"}]}", "is not tar data"),
    ])
    func badManifest(_ text: String, _ reason: String) throws {
        let d = TempDir()
        try d.write("m.json", text)
        let r = try run(Tools.flavor, ["pack", "--manifest", d.sub("m.json"), "--output", d.sub("o.psp"), "--launcher-bin", Tools.launcher, "--key-seed", "s"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("m.json") && r.stderr.contains(reason), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: d.sub("o.psp")))
        let left = try FileManager.default.contentsOfDirectory(atPath: d.path).filter { $0.contains(".tmp") }
        #expect(left.isEmpty)
    }
}

@Suite("flavor bench and the zstd codec")
struct BenchAndZstdTests {
    @Test("bench --json on a directory gives one row per codec with ratio and both throughputs")
    func benchJSON() throws {
        let app = try DemoApp()
        let r = try run(Tools.flavor, ["bench", app.dir.sub("tree"), "--codecs", "gzip:1,gzip:9,zstd:3,none", "--workers", "1", "--repeats", "1", "--json"])
        #expect(r.status == 0, "\(r.output)")
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let rows = try #require(j["rows"] as? [[String: Any]])
        #expect(rows.map { $0["codec"] as? String ?? "" } == ["gzip:1", "gzip:9", "zstd:3", "none"])
        for row in rows {
            #expect((row["ratio"] as? Double ?? 0) > 0)
            #expect((row["pack_mb_s"] as? Double ?? 0) > 0)
            #expect((row["unpack_mb_s"] as? Double ?? 0) > 0)
        }
        #expect(rows[3]["ratio"] as? Double == 1.0)
        #expect((rows[1]["ratio"] as? Double ?? 1) < 1.0)
        let bad = try run(Tools.flavor, ["bench", app.dir.sub("tree"), "--codecs", "lz4"])
        #expect(bad.status != 0 && bad.stderr.contains("unknown codec"))
    }

    @Test("pack --codec zstd warns that the package needs flavor-launcher, and flavor-launcher runs it")
    func zstdPackage() throws {
        let app = try DemoApp()
        let r = try run(Tools.flavor, ["pack", "--manifest", try app.manifest(), "--output", app.dir.sub("z.psp"),
                                       "--launcher-bin", Tools.launcher, "--key-seed", "s", "--codec", "zstd"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stderr.contains("zstd") && r.stderr.contains("flavor-launcher"))
        let i = try JSONSerialization.jsonObject(with: Data(try run(Tools.flavor, ["inspect", "--json", app.dir.sub("z.psp")]).stdout.utf8)) as? [String: Any]
        #expect(((i?["slots"] as? [[String: Any]])?[1]["operations"] as? String) == "tar|zstd")
        let out = try run(app.dir.sub("z.psp"), ["zz"], env: ["FLAVOR_CACHE_DIR": app.dir.sub("c")])
        #expect(out.status == 0 && out.stdout.contains("args:zz") && out.stdout.contains("file:./data/nested/b.txt 2500"))
        #expect(try run(Tools.flavor, ["verify", app.dir.sub("z.psp")]).status == 0)
    }
}

@Suite("gzip bombs")
struct GzipBombTests {
    @Test("a gzip slot that inflates past FLAVOR_MAX_SLOT_BYTES is refused with the reason, nothing extracted")
    func bomb() throws {
        let d = TempDir()
        // 256 MiB of zeros gzip to about 250 KB; upstream-style file slot, so no declared size.
        let gz = d.sub("bomb.gz")
        let r0 = try run("/bin/sh", ["-c", "head -c 268435456 /dev/zero | gzip -1 > \(gz)"])
        try #require(r0.status == 0)
        try d.write("m.json", """
            {"package": {"name": "bomb", "version": "1"}, "execution": {"command": "/bin/true"},
             "slots": [{"id": "bomb", "source": "\(gz)", "target": "data/zeros", "operations": "gzip"}]}
            """)
        let pkg = try flavorPack(d.sub("m.json"), d.sub("bomb.psp"))
        let limit = ["FLAVOR_MAX_SLOT_BYTES": String(16 << 20)]
        let x = try run(Tools.flavor, ["extract-all", pkg, d.sub("out")], env: limit)
        #expect(x.status == 1)
        #expect(x.stderr.contains("exceeds the limit"), "\(x.stderr)")
        #expect(!FileManager.default.fileExists(atPath: d.sub("out")))
        let l = try run(pkg, [], env: limit.merging(["FLAVOR_CACHE_DIR": d.sub("c")]) { $1 })
        #expect(l.status == 103 && l.stderr.contains("exceeds the limit"), "\(l.stderr)")
        // Within the limit it extracts fine.
        #expect(try run(Tools.flavor, ["extract-all", "-q", pkg, d.sub("ok")], env: ["FLAVOR_MAX_SLOT_BYTES": String(512 << 20)]).status == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: d.sub("ok/data/zeros"))[.size] as? Int) == 268435456)
    }
}
