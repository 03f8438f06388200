import Foundation
import Testing

/// Second opinions: upstream flavorpack 0.5.4 (fetched by scripts/fetch-upstream, never committed)
/// and ../shared/pspfdump.py. With FLAVOR_REQUIRE=interop (CI) a missing upstream fails.
@Suite("interop with upstream flavorpack 0.5.4 and pspfdump.py", .enabled(if: Tools.interopEnabled, "upstream helpers not fetched (scripts/fetch-upstream)"))
struct InteropTests {
    enum Builder: String, CaseIterable { case flavor, rs, go }
    enum Launcher: String, CaseIterable { case ours, rs, go }

    static let matrix: [(Builder, Launcher)] = Builder.allCases.flatMap { b in Launcher.allCases.map { (b, $0) } }

    static func launcherPath(_ l: Launcher) throws -> String {
        l == .ours ? Tools.launcher : try Tools.upstream("flavor-\(l.rawValue)-launcher")
    }

    /// Builds the demo app with `builder`, prepending `launcher`.
    static func build(_ app: DemoApp, _ builder: Builder, _ launcher: Launcher, name: String) throws -> String {
        let out = app.dir.sub("\(name).psp")
        let lpath = try launcherPath(launcher)
        switch builder {
        case .flavor:
            return try flavorPack(try app.manifest(name: name), out, launcher: lpath)
        case .rs, .go:
            // Upstream builders store sources as given, so they get the tree as a .tar.gz.
            let m = try app.manifest(name: name, treeSource: try app.treeTarball())
            let r = try run(try Tools.upstream("flavor-\(builder.rawValue)-builder"),
                            ["--manifest", m, "--output", out, "--launcher-bin", lpath, "--key-seed", "test-seed"],
                            env: ["SOURCE_DATE_EPOCH": "1700000000"], cwd: app.dir.path)
            try #require(r.status == 0, "\(builder) builder: \(r.output)")
            return out
        }
    }

    @Test("3×3: packages from {flavor, rs, go} builders run under {ours, rs, go} launchers with the same output")
    func matrixRuns() throws {
        let app = try DemoApp()
        var outputs = [String: String]()
        for (b, l) in Self.matrix {
            let name = "m-\(b.rawValue)-\(l.rawValue)"
            let pkg = try Self.build(app, b, l, name: name)
            let r = try run(pkg, ["x", "y z"], env: ["FLAVOR_CACHE_DIR": app.dir.sub("cache-\(name)")])
            #expect(r.status == 0, "\(name): \(r.output)")
            // Upstream launchers extract every slot, the attestation too (as `_attestation` at the
            // workenv root); ours leaves it in the package. The rest must be the same.
            outputs[name] = l == .ours ? r.stdout
                : r.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("file:./_attestation ") }.joined(separator: "\n")
        }
        let reference = try #require(outputs["m-flavor-ours"])
        #expect(reference.contains("args:x y z") && reference.contains("file:./data/nested/b.txt 2500"))
        for (name, out) in outputs { #expect(out == reference, "\(name) differs:\n\(out)\n--- vs ---\n\(reference)") }
    }

    @Test("packages from upstream rs and go builders pass flavor verify and extract to the same tree as ours", arguments: [Builder.rs, .go])
    func upstreamPackagesVerify(_ b: Builder) throws {
        let app = try DemoApp()
        let theirs = try Self.build(app, b, .rs, name: "up")
        let ours = try Self.build(app, .flavor, .ours, name: "ours")
        let v = try run(Tools.flavor, ["verify", theirs])
        #expect(v.status == 0, "\(v.output)")
        #expect(try run(Tools.flavor, ["extract-all", theirs, app.dir.sub("x-theirs")]).status == 0)
        #expect(try run(Tools.flavor, ["extract-all", ours, app.dir.sub("x-ours")]).status == 0)
        let diff = try run("/usr/bin/diff", ["-r", app.dir.sub("x-theirs"), app.dir.sub("x-ours")])
        #expect(diff.status == 0, "\(diff.output)")
    }

    @Test("our packages pass the upstream launchers' own verify", arguments: [Launcher.rs, .go])
    func upstreamVerifiesOurs(_ l: Launcher) throws {
        let app = try DemoApp()
        let pkg = try Self.build(app, .flavor, l, name: "ours")
        let r = try run(pkg, ["verify"], env: ["FLAVOR_LAUNCHER_CLI": "1", "FLAVOR_CACHE_DIR": app.dir.sub("c")])
        #expect(r.status == 0, "\(r.output)")
    }

    @Test("a forged slot with a rewritten descriptor passes upstream's verify but not ours", arguments: [Launcher.rs, .go])
    func forgedSlot(_ l: Launcher) throws {
        let app = try DemoApp()
        let pkg = try Self.build(app, .flavor, l, name: "forge")
        let bad = app.dir.sub("forged.psp")
        try Tamper.forgedSlotAndDescriptor.apply(pkg, bad)
        let theirs = try run(bad, ["verify"], env: ["FLAVOR_LAUNCHER_CLI": "1", "FLAVOR_CACHE_DIR": app.dir.sub("c")])
        #expect(theirs.status == 0, "upstream now refuses forged slots? \(theirs.output)")
        let ours = try run(Tools.flavor, ["verify", bad])
        #expect(ours.status == 1 && ours.stderr.contains("slot-signed-checksum"))
    }

    @Test("pspfdump.py accepts our packages: magics, Adler-32, metadata SHA-256, Ed25519 and slot checksums")
    func pspfdumpAccepts() throws {
        let app = try DemoApp()
        let pkg = try Self.build(app, .flavor, .ours, name: "dump")
        try #require(FileManager.default.fileExists(atPath: Tools.pspfdump), "\(Tools.pspfdump) missing: shared/ must sit beside the checkout")
        let r = try run("/usr/bin/env", ["python3", Tools.pspfdump, pkg])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("start magic f09f93a6 ok") && r.stdout.contains("end magic f09faa84 ok"))
        #expect(r.stdout.contains("MATCH") && !r.stdout.contains("MISMATCH"))
        #expect(r.stdout.contains("sha256 match: True"))
        #expect(r.stdout.contains("ed25519 verify(sig, gunzip(metadata)): True"))
        #expect(r.stdout.components(separatedBy: " ok)").count - 1 == 3, "two slots and the attestation")
        #expect(r.stdout.contains("package_size == file size: True"))
    }

    @Test("upstream's rs builder signs with keys from flavor keygen")
    func upstreamUsesOurKeys() throws {
        let app = try DemoApp()
        let k = try run(Tools.flavor, ["keygen", "--out-dir", app.dir.sub("keys"), "--json"])
        let fp = (try JSONSerialization.jsonObject(with: Data(k.stdout.utf8)) as? [String: Any])?["fingerprint"] as? String
        let out = app.dir.sub("k.psp")
        let m = try app.manifest(name: "k", treeSource: try app.treeTarball())
        let r = try run(try Tools.upstream("flavor-rs-builder"),
                        ["--manifest", m, "--output", out, "--launcher-bin", Tools.launcher,
                         "--private-key", app.dir.sub("keys/flavor-private.key"), "--public-key", app.dir.sub("keys/flavor-public.key")],
                        cwd: app.dir.path)
        #expect(r.status == 0, "\(r.output)")
        let i = try JSONSerialization.jsonObject(with: Data(try run(Tools.flavor, ["inspect", "--json", out]).stdout.utf8)) as? [String: Any]
        #expect(fp != nil && i?["key_fingerprint"] as? String == fp)
        #expect(try run(Tools.flavor, ["verify", out]).status == 0)
    }
}

@Suite("sharded directory slots", .enabled(if: Tools.interopEnabled, "upstream helpers not fetched (scripts/fetch-upstream)"))
struct ShardInteropTests {
    /// A tree over the 8 MiB shard size: 40 files of 300 KiB of incompressible-ish bytes.
    static func bigTree(_ d: TempDir) throws -> String {
        var state: UInt64 = 42
        for f in 0..<40 {
            var bytes = [UInt8](repeating: 0, count: 300 * 1024)
            for i in stride(from: 0, to: bytes.count, by: 8) {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                for k in 0..<8 { bytes[i + k] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(k))) }
            }
            let path = d.sub("big/dir\(f % 4)/file\(f).bin")
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        return d.sub("big")
    }

    @Test("a directory over the shard size becomes several tgz slots that every launcher unpacks to the same tree",
          arguments: ["ours", "rs", "go"])
    func shardedRuns(_ launcher: String) throws {
        let d = TempDir()
        let tree = try Self.bigTree(d)
        try d.write("m.json", """
            {"package": {"name": "big", "version": "1"}, "execution": {"command": "/bin/true"},
             "slots": [{"id": "big", "source": "\(tree)", "target": "opt/big", "operations": "tgz"}]}
            """)
        let l = launcher == "ours" ? Tools.launcher : try Tools.upstream("flavor-\(launcher)-launcher")
        let pkg = try flavorPack(d.sub("m.json"), d.sub("big.psp"), launcher: l)
        let inspect = try JSONSerialization.jsonObject(with: Data(try run(Tools.flavor, ["inspect", "--json", pkg]).stdout.utf8)) as? [String: Any]
        let ids = (inspect?["slots"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(ids.count >= 2 && ids[0] == "big" && ids[1] == "big.part2", "\(ids)")
        let r = try run(pkg, [], env: ["FLAVOR_CACHE_DIR": d.sub("c")])
        #expect(r.status == 0, "\(r.output)")
        let diff = try run("/usr/bin/diff", ["-r", tree, d.sub("c/workenv/big/opt/big")])
        #expect(diff.status == 0, "\(diff.output)")
    }

    @Test("ensure extracts every shard of a lazy directory slot")
    func lazyShards() throws {
        let d = TempDir()
        let tree = try Self.bigTree(d)
        try d.write("m.json", """
            {"package": {"name": "lz", "version": "1"}, "execution": {"command": "/bin/true"},
             "slots": [{"id": "big", "source": "\(tree)", "target": "opt/big", "operations": "tgz", "lifecycle": "lazy"}]}
            """)
        let pkg = try flavorPack(d.sub("m.json"), d.sub("lz.psp"))
        let env = ["FLAVOR_CACHE_DIR": d.sub("c")]
        #expect(try run(pkg, [], env: env).status == 0)
        #expect(!FileManager.default.fileExists(atPath: d.sub("c/workenv/lz/opt/big")))
        let e = try run(pkg, ["ensure", "big"], env: env.merging(["FLAVOR_LAUNCHER_CLI": "1"]) { $1 })
        #expect(e.status == 0, "\(e.output)")
        #expect(try run("/usr/bin/diff", ["-r", tree, d.sub("c/workenv/lz/opt/big")]).status == 0)
    }
}
