import FlavorFormat
import Foundation
import Testing

/// The attestation slot (issue 13): a CycloneDX 1.6 SBOM and a provenance record, bound by the
/// index and the signed metadata, deterministic, read by upstream 0.5.4 and reading its slots.
enum AttestationFixtures {
    static let peers = Tools.repoRoot + "/.cache/python-peers"
    /// cyclonedx-python-lib with its JSON schema validator (scripts/fetch-python-peers).
    static var validatorPython: String? {
        let p = peers + "/cyclonedx-venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: p) ? p : nil
    }
    static var upstreamVenv: String? {
        let p = peers + "/flavorpack-venv"
        return FileManager.default.isExecutableFile(atPath: p + "/bin/flavor") ? p : nil
    }
    static var validatorEnabled: Bool { validatorPython != nil || Tools.interopRequired }
    static var upstreamEnabled: Bool { upstreamVenv != nil || Tools.interopRequired }

    /// Errors of the strict CycloneDX 1.6 JSON-schema validation of `sbom` (empty: valid).
    static func schemaErrors(_ sbom: String) throws -> String {
        let py = try #require(validatorPython, "run scripts/fetch-python-peers (cyclonedx-venv)")
        let dir = TempDir("sbom")
        try dir.write("sbom.json", sbom)
        let r = try run(py, ["-c", """
            import sys
            from cyclonedx.validation.json import JsonStrictValidator
            from cyclonedx.schema import SchemaVersion
            e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
            print(e if e else "", end="")
            """, dir.sub("sbom.json")])
        try #require(r.status == 0, "validator: \(r.output)")
        return r.stdout
    }
}

func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(200))")
}

/// Key-sorted re-serialisation, so two printers' layouts compare by content.
func canonicalJSON(_ text: String) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: try jsonObject(text), options: [.sortedKeys]), as: UTF8.self)
}

/// Through the system's sha256sum (Tamper.swift), not the code under test.
func sha256Hex(_ bytes: [UInt8]) -> String { hex(bytes: sha256(bytes)) }

@Suite("attestation: SBOM and provenance in the package")
struct AttestationTests {
    func packDemo(_ app: DemoApp, _ name: String = "att.psp", extra: [String] = [], env: [String: String] = [:]) throws -> String {
        try flavorPack(try app.manifest(), app.dir.sub(name), env: env, extraArgs: extra)
    }

    @Test("pack appends an _attestation slot (lifecycle attestation, stored as is), bound by the index; it is not extracted")
    func slotAndIndex() throws {
        let app = try DemoApp()
        let pkg = try packDemo(app)
        let j = try jsonObject(try run(Tools.flavor, ["inspect", "--json", pkg]).stdout)
        let slots = try #require(j["slots"] as? [[String: Any]])
        let last = try #require(slots.last)
        #expect(last["id"] as? String == "_attestation" && last["lifecycle"] as? String == "attestation")
        #expect(last["operations"] as? String == "none" && last["extraction"] as? String == "never")
        let att = try #require(j["attestation"] as? [String: Any])
        #expect(att["slot"] as? Int == slots.count - 1)
        // The index's digest is the SHA-256 of the slot's stored bytes, and so is the signed checksum.
        let bytes = try readBytes(pkg)
        let off = try #require(last["offset"] as? Int), size = try #require(last["size"] as? Int)
        let digest = sha256Hex(Array(bytes[off..<off + size]))
        #expect(att["sbom_digest"] as? String == digest)
        #expect(last["checksum"] as? String == "sha256:" + digest)
        // A launch never writes it into the workenv.
        let cache = app.dir.sub("cache")
        let r = try run(pkg, [], env: ["FLAVOR_CACHE_DIR": cache])
        #expect(r.status == 0, "\(r.output)")
        #expect(!r.stdout.contains("_attestation"), "\(r.stdout)")
        #expect(!FileManager.default.fileExists(atPath: cache + "/workenv/att/_attestation"))
    }

    @Test("inspect --sbom is CycloneDX 1.6 (strict schema), listing every slot with its stored SHA-256 and the launcher",
          .enabled(if: AttestationFixtures.validatorEnabled, "CycloneDX validator not installed (scripts/fetch-python-peers)"))
    func sbomValidates() throws {
        let app = try DemoApp()
        let pkg = try packDemo(app)
        let r = try run(Tools.flavor, ["inspect", "--sbom", pkg])
        try #require(r.status == 0, "\(r.output)")
        #expect(try AttestationFixtures.schemaErrors(r.stdout) == "")
        let sbom = try jsonObject(r.stdout)
        #expect(sbom["bomFormat"] as? String == "CycloneDX" && sbom["specVersion"] as? String == "1.6")
        #expect((sbom["serialNumber"] as? String)?.hasPrefix("urn:uuid:") == true)
        let comps = try #require(sbom["components"] as? [[String: Any]])
        let inspect = try jsonObject(try run(Tools.flavor, ["inspect", "--json", pkg]).stdout)
        for s in try #require(inspect["slots"] as? [[String: Any]]) where s["id"] as? String != "_attestation" {
            let c = try #require(comps.first { $0["name"] as? String == s["id"] as? String }, "slot \(s["id"] ?? "?") not in the SBOM")
            let hash = (c["hashes"] as? [[String: Any]])?.first?["content"] as? String
            #expect("sha256:" + (hash ?? "") == s["checksum"] as? String)
        }
        #expect(comps.contains { $0["type"] as? String == "application" && ($0["name"] as? String)?.hasPrefix("flavor-launcher") == true })
        // The validator really judges: a document without its format is refused.
        let broken = r.stdout.replacingOccurrences(of: "\"bomFormat\"", with: "\"bomFormatX\"")
        #expect(try AttestationFixtures.schemaErrors(broken) != "")
    }

    @Test("provenance: builder, SOURCE_DATE_EPOCH, manifest digest, key, and the content tree digest of what extract-all writes")
    func provenance() throws {
        let app = try DemoApp()
        let manifest = try app.manifest()
        let pkg = try flavorPack(manifest, app.dir.sub("p.psp"), env: ["SOURCE_DATE_EPOCH": "1700000000"])
        let r = try run(Tools.flavor, ["inspect", "--provenance", pkg])
        try #require(r.status == 0, "\(r.output)")
        let p = try jsonObject(r.stdout)
        #expect(p["builder"] as? String == "flavor-swift")
        #expect(p["source_date_epoch"] as? Int == 1_700_000_000 && p["reproducible"] as? Bool == true)
        #expect(p["build_timestamp"] as? String == "2023-11-14T22:13:20+00:00")
        let source = try #require(p["source"] as? [String: Any])
        #expect(source["manifest_digest"] as? String == "sha256:" + sha256Hex(try readBytes(manifest)))
        #expect(p["signing_attestation_key_fp"] as? String == "sha256:" + (try fingerprint(ofPackage: pkg)))
        // The content digest is `sha256sum` over the tree a full extraction gives.
        let out = app.dir.sub("out")
        #expect(try run(Tools.flavor, ["extract-all", pkg, out]).status == 0)
        var lines = [String]()
        let e = FileManager.default.enumerator(atPath: out)!
        while let rel = e.nextObject() as? String {
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: out + "/" + rel, isDirectory: &isDir)
            if isDir.boolValue { continue }
            lines.append(sha256Hex(try readBytes(out + "/" + rel)) + "  " + rel + "\n")
        }
        lines.sort { Array($0.split(separator: " ").last!.utf8).lexicographicallyPrecedes(Array($1.split(separator: " ").last!.utf8)) }
        let content = try #require(p["content"] as? [String: Any])
        #expect(content["files"] as? Int == lines.count && lines.count >= 4)
        #expect(content["tree_digest"] as? String == "sha256:" + sha256Hex(Array(lines.joined().utf8)))
        // extract-all leaves the attestation out, as a launch does; extract by id writes it.
        #expect(!FileManager.default.fileExists(atPath: out + "/_attestation"))
        let one = app.dir.sub("one")
        #expect(try run(Tools.flavor, ["extract", pkg, "_attestation", one]).status == 0)
        #expect(try jsonObject(String(decoding: try readBytes(one + "/_attestation"), as: UTF8.self))["provenance"] != nil)
    }

    @Test("the attestation is deterministic: same key seed and SOURCE_DATE_EPOCH, byte-identical packages")
    func deterministic() throws {
        let app = try DemoApp()
        let env = ["SOURCE_DATE_EPOCH": "1700000000"]
        let a = try packDemo(app, "a.psp", env: env), b = try packDemo(app, "b.psp", env: env)
        #expect(try readBytes(a) == readBytes(b))
        let c = try packDemo(app, "c.psp", env: ["SOURCE_DATE_EPOCH": "1700000001"])
        #expect(try run(Tools.flavor, ["inspect", "--sbom", a]).stdout != run(Tools.flavor, ["inspect", "--sbom", c]).stdout)
    }

    @Test("a tampered SBOM: flavor verify fails naming attestation-digest, the launcher refuses it (strict, exit 107), inspect --sbom refuses it")
    func tamperedSBOM() throws {
        let app = try DemoApp()
        let pkg = try packDemo(app)
        let j = try jsonObject(try run(Tools.flavor, ["inspect", "--json", pkg]).stdout)
        let last = try #require((j["slots"] as? [[String: Any]])?.last)
        var bytes = try readBytes(pkg)
        let off = try #require(last["offset"] as? Int), size = try #require(last["size"] as? Int)
        // One name in the SBOM changed, still valid JSON: only the digests can tell.
        let doc = String(decoding: bytes[off..<off + size], as: UTF8.self)
        let range = try #require(doc.range(of: "\"name\":\"show\""))
        let at = off + doc.utf8.distance(from: doc.startIndex, to: range.lowerBound) + 8
        bytes[at] = UInt8(ascii: "S")
        let bad = app.dir.sub("bad.psp")
        try writeBytes(bad, bytes)
        chmod(bad, 0o755)
        let v = try run(Tools.flavor, ["verify", bad])
        #expect(v.status == 1 && v.output.contains("attestation-digest"), "\(v.output)")
        let home = ConfigHome()
        let l = try run(bad, [], env: home.env.merging(["FLAVOR_VALIDATION": "strict"]) { $1 })
        #expect(l.status == 107 && l.stderr.contains("attestation"), "\(l.output)")
        #expect(!home.ran && !FileManager.default.fileExists(atPath: home.dir.sub("cache/workenv")))
        let i = try run(Tools.flavor, ["inspect", "--sbom", bad])
        #expect(i.status == 1 && i.stderr.contains("attestation_sbom_digest"), "\(i.output)")
    }

    @Test("--no-attestation leaves it out; inspect --sbom then says so (exit 1); require_sbom refuses such a package")
    func noAttestationAndPolicy() throws {
        let app = try DemoApp(), home = ConfigHome()
        let with = try packDemo(app, "with.psp"), without = try packDemo(app, "without.psp", extra: ["--no-attestation"])
        let j = try jsonObject(try run(Tools.flavor, ["inspect", "--json", without]).stdout)
        #expect(j["attestation"] is NSNull)
        #expect(!((j["slots"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == "_attestation" })
        let s = try run(Tools.flavor, ["inspect", "--sbom", without])
        #expect(s.status == 1 && s.stderr.contains("no attestation slot"), "\(s.output)")
        try home.writePolicy(#"{"version": 1, "attestation": {"require_sbom": true}}"#)
        let refused = try run(without, [], env: home.env)
        #expect(refused.status == 111 && refused.stderr.contains("SBOM") && !home.ran, "\(refused.output)")
        let ran = try run(with, [], env: home.env)
        #expect(ran.status == 0 && home.ran, "\(ran.output)")
    }
}

/// Both directions with upstream 0.5.4's Python package (scripts/fetch-python-peers), which reads
/// and writes the attestation slot.
@Suite("attestation interop with upstream flavorpack 0.5.4", .enabled(if: AttestationFixtures.upstreamEnabled, "upstream's Python flavor not installed (scripts/fetch-python-peers)"))
struct AttestationInteropTests {
    @Test("upstream's `flavor inspect --sbom/--provenance` read ours as we print them; its verify accepts the package")
    func upstreamReadsOurs() throws {
        let venv = try #require(AttestationFixtures.upstreamVenv)
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("ours.psp"))
        for part in ["--sbom", "--provenance"] {
            let theirs = try run(venv + "/bin/flavor", ["inspect", part, pkg])
            let ours = try run(Tools.flavor, ["inspect", part, pkg])
            try #require(theirs.status == 0 && ours.status == 0, "\(theirs.output)\n\(ours.output)")
            #expect(try canonicalJSON(theirs.stdout) == canonicalJSON(ours.stdout), "\(part)")
        }
        let v = try run(venv + "/bin/flavor", ["verify", pkg])
        #expect(v.status == 0, "\(v.output)")
    }

    @Test("a package written by upstream's Python builder: our verify checks its attestation digest, inspect reads its SBOM and provenance as upstream does")
    func weReadTheirs() throws {
        let venv = try #require(AttestationFixtures.upstreamVenv)
        let dir = TempDir("up-att")
        try dir.write("run.sh", "#!/bin/sh\necho upstream-built \"$@\"\n", mode: 0o755)
        let launcher = try #require(try FileManager.default.contentsOfDirectory(atPath: venv + "/lib/python3.11/site-packages/flavor/helpers/bin")
            .first { $0.hasPrefix("flavor-rs-launcher") })
        let pkg = dir.sub("up.psp")
        let b = try run(venv + "/bin/python", ["-c", """
            import sys
            from pathlib import Path
            from flavor.psp.format_2025.builder import build_package
            from flavor.psp.format_2025.spec import BuildSpec, BuildOptions, KeyConfig
            from flavor.psp.format_2025.slots import SlotMetadata
            slot = SlotMetadata(index=0, id="run", source=sys.argv[1], target="bin/run.sh", size=0, checksum="",
                                operations="gzip", purpose="code", lifecycle="runtime", permissions="0755")
            spec = BuildSpec(metadata={"package": {"name": "upapp", "version": "0.1"}, "execution": {"command": "{workenv}/bin/run.sh"}},
                             slots=[slot], keys=KeyConfig(key_seed="s"), options=BuildOptions(launcher_bin=Path(sys.argv[2])))
            r = build_package(spec, Path(sys.argv[3]))
            sys.exit(0 if r.success else f"build failed: {r.errors}")
            """, dir.sub("run.sh"), venv + "/lib/python3.11/site-packages/flavor/helpers/bin/" + launcher, pkg])
        try #require(b.status == 0, "\(b.output)")
        let v = try run(Tools.flavor, ["verify", pkg])
        #expect(v.status == 0 && v.stdout.contains("attestation-digest"), "\(v.output)")
        for part in ["--sbom", "--provenance"] {
            let theirs = try run(venv + "/bin/flavor", ["inspect", part, pkg])
            let ours = try run(Tools.flavor, ["inspect", part, pkg])
            try #require(theirs.status == 0 && ours.status == 0, "\(theirs.output)\n\(ours.output)")
            #expect(try canonicalJSON(theirs.stdout) == canonicalJSON(ours.stdout), "\(part)")
        }
        let p = try jsonObject(try run(Tools.flavor, ["inspect", "--provenance", pkg]).stdout)
        #expect(p["builder"] as? String == "flavor-python" && p["builder_version"] as? String == "0.5.4")
        // Its attestation changed by one byte: our verify names the attestation check.
        var bytes = try readBytes(pkg)
        let j = try jsonObject(try run(Tools.flavor, ["inspect", "--json", pkg]).stdout)
        let slot = try #require((j["slots"] as? [[String: Any]])?.first { $0["lifecycle"] as? String == "attestation" })
        let off = try #require(slot["offset"] as? Int)
        let size = try #require(slot["size"] as? Int)
        let doc = String(decoding: bytes[off..<off + size], as: UTF8.self)
        let at = off + doc.utf8.distance(from: doc.startIndex, to: try #require(doc.range(of: "flavor-python")).lowerBound)
        bytes[at] = UInt8(ascii: "F")
        try writeBytes(pkg, bytes)
        let t = try run(Tools.flavor, ["verify", pkg])
        #expect(t.status == 1 && t.output.contains("attestation-digest"), "\(t.output)")
    }

    @Test("upstream's rs and go launchers run our packages with their attestation slot", arguments: ["rs", "go"])
    func upstreamLaunchersRunOurs(_ flavorOf: String) throws {
        let app = try DemoApp(), home = ConfigHome()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("\(flavorOf).psp"), launcher: try Tools.upstream("flavor-\(flavorOf)-launcher"))
        #expect(try run(Tools.flavor, ["inspect", "--sbom", pkg]).status == 0)
        let r = try run(pkg, ["x"], env: home.env)
        #expect(r.status == 0 && home.ran && r.stdout.contains("args:x"), "\(r.output)")
    }
}
