import Foundation
import Testing

/// A big file is packed as one gzip member of independently compressed chunks (ChunkedGzip):
/// our launcher decodes the chunks on every core, verifying each against the signed index, and
/// every other gzip reader still sees one ordinary member.
@Suite("chunked gzip slots for big files")
struct ChunkedSlotTests {
    /// 64 KiB chunks, so a 1.25 MiB file is 20 chunks (the default is 4 MiB).
    static let env = ["FLAVOR_GZIP_CHUNK_BYTES": "65536"]
    static let bigSize = 1_310_720

    /// The demo app plus data/big.bin: alternating 4 KiB runs of text and noise.
    static func app() throws -> DemoApp {
        let app = try DemoApp()
        var state: UInt64 = 0x5EED
        var bytes = [UInt8]()
        bytes.reserveCapacity(bigSize)
        while bytes.count < bigSize {
            if bytes.count / 4096 % 2 == 0 {
                bytes += Array("chunked slot \(bytes.count % 977) of a big file\n".utf8)
            } else {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                bytes.append(UInt8(truncatingIfNeeded: state >> 33))
            }
        }
        try writeBytes(app.dir.sub("tree/data/big.bin"), Array(bytes.prefix(bigSize)))
        return app
    }

    /// Offset and size of the slot whose stored bytes carry our chunk index ("FC" FEXTRA subfield).
    static func chunkedSlot(_ pkg: String) throws -> (offset: Int, size: Int) {
        let j = try #require(try JSONSerialization.jsonObject(with: Data(try run(Tools.flavor, ["inspect", "--json", pkg]).stdout.utf8)) as? [String: Any])
        let bytes = try readBytes(pkg)
        for s in try #require(j["slots"] as? [[String: Any]]) {
            let o = s["offset"] as? Int ?? 0, n = s["size"] as? Int ?? 0
            if n > 16, bytes[o] == 0x1F, bytes[o + 1] == 0x8B, bytes[o + 3] & 0x04 != 0, bytes[o + 12] == UInt8(ascii: "F"), bytes[o + 13] == UInt8(ascii: "C") {
                return (o, n)
            }
        }
        throw CocoaError(.fileReadCorruptFile)
    }

    @Test("the big file gets a chunked slot that flavor verify, pspfdump.py and extract-all accept")
    func packVerifyExtract() throws {
        let app = try Self.app()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("big.psp"), env: Self.env)
        let slot = try Self.chunkedSlot(pkg)
        #expect(slot.size < Self.bigSize)
        let v = try run(Tools.flavor, ["verify", pkg])
        #expect(v.status == 0)
        // The tar stream: a 512-byte header, the file, two zero blocks; 64 KiB chunks.
        let chunks = (512 + Self.bigSize + 1024 + 65_535) / 65_536
        #expect(v.stdout.contains("slot-chunk-index: \(chunks) chunks of 65536 bytes"), "\(v.stdout)")
        let j = try #require(try JSONSerialization.jsonObject(with: Data(try run(Tools.flavor, ["inspect", "--json", pkg]).stdout.utf8)) as? [String: Any])
        let counts = (j["slots"] as? [[String: Any]] ?? []).compactMap { ($0["chunks"] as? [String: Any])?["count"] as? Int }
        #expect(counts == [chunks], "inspect --json: \(counts)")
        try #require(FileManager.default.fileExists(atPath: Tools.pspfdump), "\(Tools.pspfdump) missing: shared/ must sit beside the checkout")
        let d = try run("/usr/bin/env", ["python3", Tools.pspfdump, pkg])
        #expect(d.status == 0 && !d.stdout.contains("MISMATCH"), "\(d.output)")
        let out = app.dir.sub("out")
        #expect(try run(Tools.flavor, ["extract-all", pkg, out]).status == 0)
        #expect(try readBytes(out + "/data/big.bin") == (try readBytes(app.dir.sub("tree/data/big.bin"))))
    }

    @Test("upstream's gzip readers see one ordinary member: python's gzip module decodes the slot")
    func pythonGzipReadsIt() throws {
        let app = try Self.app()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("big.psp"), env: Self.env)
        let slot = try Self.chunkedSlot(pkg)
        let script = "import gzip,sys,tarfile,io; d=open(sys.argv[1],'rb').read()[\(slot.offset):\(slot.offset + slot.size)]; t=tarfile.open(fileobj=io.BytesIO(gzip.decompress(d))); m=t.getmembers(); sys.stdout.write('%s %d' % (m[-1].name, len(t.extractfile(m[-1]).read())))"
        let r = try run("/usr/bin/env", ["python3", "-c", script, pkg])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout == "data/big.bin \(Self.bigSize)")
    }

    @Test("our launcher runs it and sees the file")
    func ourLauncher() throws { try Self.runs(under: .ours) }

    @Test("upstream's rs and go launchers run it and see the same file", .enabled(if: Tools.interopEnabled, "upstream helpers not fetched (scripts/fetch-upstream)"),
          arguments: [InteropTests.Launcher.rs, .go])
    func upstreamLaunchers(_ l: InteropTests.Launcher) throws { try Self.runs(under: l) }

    static func runs(under l: InteropTests.Launcher) throws {
        let app = try Self.app()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("big-\(l.rawValue).psp"), launcher: try InteropTests.launcherPath(l), env: Self.env)
        _ = try Self.chunkedSlot(pkg)
        let r = try run(pkg, ["a"], env: ["FLAVOR_CACHE_DIR": app.dir.sub("cache")])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("file:./data/big.bin \(Self.bigSize)"), "\(r.stdout)")
    }

    @Test("a changed byte in a chunk or in the chunk index stops our launcher before anything is published",
          arguments: [0.5, 0.0])
    func tampered(_ at: Double) throws {
        let app = try Self.app()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("big.psp"), env: Self.env)
        let slot = try Self.chunkedSlot(pkg)
        var bytes = try readBytes(pkg)
        // 0.0: inside the FEXTRA chunk index (after the 16-byte gzip + subfield header); 0.5: mid-slot.
        let byte = at == 0 ? slot.offset + 40 : slot.offset + Int(Double(slot.size) * at)
        bytes[byte] ^= 0x01
        let bad = app.dir.sub("bad.psp")
        try writeBytes(bad, bytes)
        chmod(bad, 0o755)
        let cache = app.dir.sub("cache")
        let r = try run(bad, [], env: ["FLAVOR_CACHE_DIR": cache])
        #expect(r.status == 107, "\(r.output)")
        #expect(r.stderr.contains("SHA-256"), "\(r.stderr)")
        #expect(!r.stdout.contains("args:"))
        let found = try run("/usr/bin/find", [cache, "-name", "big.bin"])
        #expect(found.stdout.isEmpty, "a tampered chunk left \(found.stdout)")
    }

    @Test("a spooled pack (FLAVOR_PACK_SPOOL_BYTES=0) writes the same bytes as one held in memory, and leaves no spool behind")
    func spooledPackIsIdentical() throws {
        let app = try Self.app()
        let env = Self.env.merging(["SOURCE_DATE_EPOCH": "1700000000"]) { a, _ in a }
        let out = app.dir.sub("out-dir")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let inMemory = try flavorPack(try app.manifest(), out + "/memory.psp", env: env)
        let spooled = try flavorPack(try app.manifest(), out + "/spooled.psp", env: env.merging(["FLAVOR_PACK_SPOOL_BYTES": "0"]) { _, b in b })
        _ = try Self.chunkedSlot(spooled)
        #expect(try readBytes(inMemory) == (try readBytes(spooled)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["memory.psp", "spooled.psp"])
    }

}
