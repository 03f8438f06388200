import Foundation
import Testing
import FlavorFormat

/// The launcher's signature record (SignatureMemo, docs/ARCHITECTURE.md): a warm start does not
/// verify Ed25519 again for the exact bytes it verified before; anything else is verified in full.
@Suite("signature record in the workenv")
struct SignatureMemoTests {
    /// The record a launch should write for `package`, computed here from the file's bytes with the
    /// system's sha256sum: key, signature, SHA-256 of the compressed metadata.
    static func expectedRecord(_ package: String) throws -> String {
        let b = try readBytes(package)
        let index = b.count - 8196
        let metaOffset = Int(le64(b, index + 24)), metaSize = Int(le64(b, index + 32))
        let metaDigest = sha256(Array(b[metaOffset..<metaOffset + metaSize]))
        let input = Array("flavor signature memo v1\n".utf8) + Array(b[index + 64..<index + 96]) + Array(b[index + 128..<index + 192]) + metaDigest
        return hex(bytes: sha256(input))
    }

    static func recordPath(_ cache: String, _ name: String) -> String { "\(cache)/workenv/.\(name).pspf/instance/signature.verified" }
    static func metadataMemoPath(_ cache: String, _ name: String) -> String { "\(cache)/workenv/.\(name).pspf/instance/metadata.memo" }

    /// The package's metadata JSON, gunzipped by the system's gzip (the signed bytes).
    static func metadataJSON(_ package: String, scratch: String) throws -> [UInt8] {
        let b = try readBytes(package)
        let index = b.count - 8196
        let metaOffset = Int(le64(b, index + 24)), metaSize = Int(le64(b, index + 32))
        try writeBytes(scratch, Array(b[metaOffset..<metaOffset + metaSize]))
        let r = try run("/bin/gzip", ["-dc", scratch])
        try #require(r.status == 0, "\(r.output)")
        return Array(r.stdout.utf8)
    }

    /// The memo's first line split into its fields, and the JSON after it.
    static func memoParts(_ path: String) throws -> (fields: [String], json: [UInt8]) {
        let memo = try readBytes(path)
        let newline = try #require(memo.firstIndex(of: 10))
        return (String(decoding: memo[0..<newline], as: UTF8.self).split(separator: " ").map(String.init), Array(memo[(newline + 1)...]))
    }

    /// A copy of `package` whose signature no longer matches (one bit), with the index re-sealed so
    /// that the signature check, not the index checksum, is what must catch it.
    static func badSignature(_ package: String, _ output: String) throws {
        var b = try readBytes(package)
        b[b.count - 8196 + 128 + 7] ^= 0x10
        try writeBytes(output, resealedIndex(b))
        chmod(output, 0o755)
    }

    @Test("the first warm start records the verified signature; the record is SHA-256 of key, signature and metadata digest")
    func recorded() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache"), "NO_LISTING": "1"]
        #expect(try run(pkg, [], env: env).status == 0)
        let record = Self.recordPath(app.dir.sub("cache"), "demo")
        #expect(!FileManager.default.fileExists(atPath: record), "a cold start has no workenv to record into when it verifies")
        let warm = try run(pkg, ["again"], env: env)
        #expect(warm.status == 0 && warm.stdout.contains("args:again"), "\(warm.output)")
        let stored = try String(contentsOfFile: record, encoding: .utf8)
        #expect(stored == (try Self.expectedRecord(pkg)))
        // Later warm starts run with it (and leave it as it is).
        #expect(try run(pkg, [], env: env).status == 0)
        #expect(try String(contentsOfFile: record, encoding: .utf8) == stored)
    }

    @Test("a package with a broken signature is refused with the good package's record in place (exit 107, nothing run)")
    func changedPackageVerifiedInFull() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache"), "NO_LISTING": "1", "MARKER": app.dir.sub("ran")]
        #expect(try run(pkg, [], env: env).status == 0)
        #expect(try run(pkg, [], env: env).status == 0)
        let good = try String(contentsOfFile: Self.recordPath(app.dir.sub("cache"), "demo"), encoding: .utf8)
        try FileManager.default.removeItem(atPath: app.dir.sub("ran"))
        // Same file name, so the same workenv and the same record.
        try Self.badSignature(pkg, app.dir.sub("demo.psp.bad"))
        try FileManager.default.removeItem(atPath: pkg)
        try FileManager.default.moveItem(atPath: app.dir.sub("demo.psp.bad"), toPath: pkg)
        let r = try run(pkg, [], env: env)
        #expect(r.status == 107 && r.stderr.contains("signature"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: app.dir.sub("ran")))
        #expect(try String(contentsOfFile: Self.recordPath(app.dir.sub("cache"), "demo"), encoding: .utf8) == good)
    }

    @Test("a record that matches stands in for the Ed25519 check; with FLAVOR_WORKENV_CACHE=false or none it does not")
    func recordStandsIn() throws {
        // What the record means: whoever can write the workenv is trusted for these exact bytes, as
        // they are for the extracted files a warm start runs. Planting it shows the check is skipped.
        let app = try DemoApp()
        let good = try flavorPack(try app.manifest(), app.dir.sub("good.psp"))
        try Self.badSignature(good, app.dir.sub("demo.psp"))
        let pkg = app.dir.sub("demo.psp")
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache"), "NO_LISTING": "1"]
        let refused = try run(pkg, [], env: env)
        #expect(refused.status == 107 && refused.stderr.contains("signature"), "\(refused.output)")
        let record = Self.recordPath(app.dir.sub("cache"), "demo")
        try FileManager.default.createDirectory(atPath: (record as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Self.expectedRecord(pkg).write(toFile: record, atomically: true, encoding: .utf8)
        let off = try run(pkg, [], env: env.merging(["FLAVOR_WORKENV_CACHE": "false"]) { $1 })
        #expect(off.status == 107, "\(off.output)")
        let r = try run(pkg, ["planted"], env: env)
        #expect(r.status == 0 && r.stdout.contains("args:planted"), "\(r.output)")
        // A record of other bytes (one digit changed) is no record; nor is the metadata memo
        // that the planted start wrote under the same key (removed: it would stand in).
        try FileManager.default.removeItem(atPath: Self.metadataMemoPath(app.dir.sub("cache"), "demo"))
        var other = Array(try Self.expectedRecord(pkg).utf8)
        other[0] = other[0] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        try Data(other).write(to: URL(fileURLWithPath: record))
        #expect(try run(pkg, [], env: env).status == 107)
    }

    @Test("the first warm start keeps the verified metadata JSON and where its slot list is, under the record's key")
    func metadataMemoRecorded() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache"), "NO_LISTING": "1"]
        let memo = Self.metadataMemoPath(app.dir.sub("cache"), "demo")
        #expect(try run(pkg, [], env: env).status == 0)
        #expect(!FileManager.default.fileExists(atPath: memo), "a cold start verifies before there is a workenv")
        #expect(try run(pkg, [], env: env).status == 0)
        let (fields, json) = try Self.memoParts(memo)
        try #require(fields.count == 9, "\(fields)")
        #expect(fields[0...3] == ["flavor", "metadata", "memo", "v1"])
        #expect(fields[4] == (try Self.expectedRecord(pkg)), "the same key as the signature record")
        #expect(json == (try Self.metadataJSON(pkg, scratch: app.dir.sub("meta.gz"))), "the signed JSON, byte for byte")
        let numbers = fields[5...].map { Int($0, radix: 16) ?? -1 }
        #expect(numbers[3] == json.count)
        try #require(numbers[0] >= 0 && numbers[0] < numbers[1] && numbers[1] <= json.count, "\(numbers)")
        let list = try JSONSerialization.jsonObject(with: Data(json[numbers[0]..<numbers[1]])) as? [Any]
        // The two slots of the manifest and the attestation.
        #expect(list?.count == 3 && numbers[2] == 3, "the range holds the slot list, and its count")
        // Later warm starts read it and leave it as it is.
        let before = try readBytes(memo)
        #expect(try run(pkg, ["again"], env: env).stdout.contains("args:again"))
        #expect(try readBytes(memo) == before)
    }

    @Test("a memo under this key stands in for the metadata; a torn or unparsable one is replaced, another package's key is ignored, FLAVOR_WORKENV_CACHE=false reads none")
    func metadataMemoStandsIn() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let env = ["FLAVOR_CACHE_DIR": app.dir.sub("cache"), "NO_LISTING": "1"]
        #expect(try run(pkg, [], env: env).status == 0)
        #expect(try run(pkg, [], env: env).stdout.contains("GREETING=hi"))
        let memo = Self.metadataMemoPath(app.dir.sub("cache"), "demo")
        let good = try readBytes(memo)
        // Planted under the same key: the execution env's "hi" as "yo" (same length, so the slot
        // list stays where the memo says). What it shows: the warm start takes the memo's JSON.
        let from = Array(#""GREETING": "hi""#.utf8), to = Array(#""GREETING": "yo""#.utf8)
        let at = try #require((0...(good.count - from.count)).first { Array(good[$0..<$0 + from.count]) == from })
        var planted = good
        planted.replaceSubrange(at..<at + from.count, with: to)
        try writeBytes(memo, planted)
        #expect(try run(pkg, [], env: env).stdout.contains("GREETING=yo"))
        let off = try run(pkg, [], env: env.merging(["FLAVOR_WORKENV_CACHE": "false"]) { $1 })
        #expect(off.status == 0 && off.stdout.contains("GREETING=hi"), "\(off.output)")
        // Torn (cut short), or whole but not JSON: the package's own metadata, and the memo written anew.
        let (_, json) = try Self.memoParts(memo)
        for broken in [Array(good.dropLast(7)), Array(good.dropLast(json.count)) + [UInt8](repeating: UInt8(ascii: "x"), count: json.count)] {
            try writeBytes(memo, broken)
            let r = try run(pkg, ["after"], env: env)
            #expect(r.status == 0 && r.stdout.contains("args:after") && r.stdout.contains("GREETING=hi"), "\(r.output)")
            #expect(try readBytes(memo) == good)
        }
        // Another package under the same name has another key: its own metadata runs.
        try writeBytes(memo, planted)
        let otherManifest = app.dir.sub("other-manifest.json")
        try String(contentsOfFile: try app.manifest(), encoding: .utf8).replacingOccurrences(of: "1.2.3", with: "1.2.4")
            .write(toFile: otherManifest, atomically: true, encoding: .utf8)
        let other = try flavorPack(otherManifest, app.dir.sub("other.psp"))
        try FileManager.default.removeItem(atPath: pkg)
        try FileManager.default.moveItem(atPath: other, toPath: pkg)
        let r = try run(pkg, [], env: env)
        #expect(r.status == 0 && r.stdout.contains("GREETING=hi"), "\(r.output)")
    }
}
