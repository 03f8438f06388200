import Testing
@testable import FlavorFormat

// MARK: Helpers

private func hexBytes(_ s: String) -> [UInt8] {
    let compact = String(s.filter { !$0.isWhitespace && $0 != "|" })
    guard let b = bytes(fromHex: compact) else { fatalError("bad hex literal in test: \(s)") }
    return b
}

private func le32(_ b: [UInt8], _ o: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) }
}

private func le64(_ b: [UInt8], _ o: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) }
}

/// `count` bytes starting at `seed`, incrementing, so every byte field differs from its neighbours.
private func ramp(_ count: Int, from seed: UInt8) -> [UInt8] {
    (0..<count).map { seed &+ UInt8(truncatingIfNeeded: $0) }
}

/// An index with every field set to a value that differs from the default and from the others.
private func distinctIndex() -> PackageIndex {
    var i = PackageIndex()
    i.formatVersion = 0x2025_0001
    i.indexChecksum = 0x0102_0304
    i.packageSize = 0x1111_1111_1111_1101
    i.launcherSize = 0x2222_2222_2222_2202
    i.metadataOffset = 0x3333_3333_3333_3303
    i.metadataSize = 0x4444_4444_4444_4404
    i.slotTableOffset = 0x5555_5555_5555_5505
    i.slotTableSize = 0x6666_6666_6666_6606
    i.slotCount = 0x7777_7707
    i.flags = 0x8888_8808
    i.publicKey = ramp(32, from: 0x10)
    i.metadataChecksum = ramp(32, from: 0x40)
    i.integritySignature = ramp(512, from: 0x70)
    i.accessMode = 0xA1
    i.cacheStrategy = 0xA2
    i.reservedHint1 = 0xA3
    i.reservedHint2 = 0xA4
    i.pageSize = 0x9999_9909
    i.maxMemory = 0xAAAA_AAAA_AAAA_AA0A
    i.minMemory = 0xBBBB_BBBB_BBBB_BB0B
    i.cpuFeatures = 0xCCCC_CCCC_CCCC_CC0C
    i.gpuRequirements = 0xDDDD_DDDD_DDDD_DD0D
    i.numaHints = 0xEEEE_EEEE_EEEE_EE0E
    i.streamChunkSize = 0x0F0F_0F0F
    i.buildTimestamp = 0x1234_5678_9ABC_DEF0
    i.buildMachine = ramp(32, from: 0x21)
    i.sourceHash = ramp(32, from: 0x31)
    i.dependencyHash = ramp(32, from: 0x51)
    i.licenseID = ramp(16, from: 0x61)
    i.provenanceURI = ramp(8, from: 0x81)
    i.capabilities = 0x0102_0304_0506_0708
    i.requirements = 0x1112_1314_1516_1718
    i.extensions = 0x2122_2324_2526_2728
    i.compatibility = 0x3132_3334
    i.protocolVersion = 0x4142_4344
    i.futureCrypto = ramp(512, from: 0x91)
    i.attestationKeyFingerprint = Array(String(repeating: "0123456789abcdef", count: 4).utf8)
    i.attestationSBOMDigest = Array(String(repeating: "fedcba9876543210", count: 4).utf8)
    i.attestationPolicyHash = Array(String(repeating: "a1b2c3d4e5f60789", count: 4).utf8)
    return i
}

/// The first 60 bytes of the index in spec §2's xxd dump (Rust build, key seed "s"); the rest of
/// the dump is elided there, so the remaining bytes are left zero.
private let specIndexHead = hexBytes("""
    01002520 ca5782e4 7f4e2f00 00000000 580b2f00 00000000 582b2f00 00000000
    87020000 00000000 e02d2f00 00000000 40000000 00000000 01000000
    """)

// MARK: PackageIndex

@Suite("Package index block")
struct PackageIndexTests {
    @Test("the index head from the spec's xxd dump decodes to the documented fields")
    func decodesSpecExample() throws {
        var raw = specIndexHead
        raw += [UInt8](repeating: 0, count: PackageIndex.byteCount - raw.count)
        let idx = try raw.withByteReader { (r) throws(FormatError) in try PackageIndex(decoding: r) }
        #expect(idx.formatVersion == 0x2025_0001)
        #expect(idx.indexChecksum == 0xe482_57ca)
        #expect(idx.packageSize == 0x2f_4e7f)
        #expect(idx.packageSize == 3_100_287)
        #expect(idx.launcherSize == 0x2f_0b58)
        #expect(idx.metadataOffset == 0x2f_2b58)
        #expect(idx.metadataOffset == idx.launcherSize + 8192, "the Rust builder leaves an 8 KiB gap")
        #expect(idx.metadataSize == 647)
        #expect(idx.slotTableOffset == 0x2f_2de0)
        #expect(idx.slotTableSize == 64)
        #expect(idx.slotCount == 1)
        #expect(idx.flags == 0)
    }

    @Test("format_version is stored little-endian as 01 00 25 20")
    func formatVersionBytes() {
        let b = PackageIndex().encoded()
        #expect(Array(b[0..<4]) == [0x01, 0x00, 0x25, 0x20])
    }

    @Test("an index with every field set to a distinct value survives encode and decode unchanged")
    func roundTrip() throws {
        let original = distinctIndex()
        let encoded = original.encoded()
        #expect(encoded.count == PackageIndex.byteCount)
        let decoded = try encoded.withByteReader { (r) throws(FormatError) in try PackageIndex(decoding: r) }
        #expect(decoded == original)
        #expect(decoded.encoded() == encoded)
    }

    @Test("encoded fields sit at the spec §3 offsets, little-endian",
          arguments: [
              (0, 4, UInt64(0x2025_0001)), (4, 4, 0x0102_0304), (8, 8, 0x1111_1111_1111_1101),
              (16, 8, 0x2222_2222_2222_2202), (24, 8, 0x3333_3333_3333_3303), (32, 8, 0x4444_4444_4444_4404),
              (40, 8, 0x5555_5555_5555_5505), (48, 8, 0x6666_6666_6666_6606), (56, 4, 0x7777_7707),
              (60, 4, 0x8888_8808), (640, 1, 0xA1), (641, 1, 0xA2), (642, 1, 0xA3), (643, 1, 0xA4),
              (644, 4, 0x9999_9909), (648, 8, 0xAAAA_AAAA_AAAA_AA0A), (656, 8, 0xBBBB_BBBB_BBBB_BB0B),
              (664, 8, 0xCCCC_CCCC_CCCC_CC0C), (672, 8, 0xDDDD_DDDD_DDDD_DD0D), (680, 8, 0xEEEE_EEEE_EEEE_EE0E),
              (688, 4, 0x0F0F_0F0F), (704, 8, 0x1234_5678_9ABC_DEF0), (832, 8, 0x0102_0304_0506_0708),
              (840, 8, 0x1112_1314_1516_1718), (848, 8, 0x2122_2324_2526_2728), (856, 4, 0x3132_3334),
              (860, 4, 0x4142_4344),
          ] as [(Int, Int, UInt64)])
    func integerOffsets(offset: Int, width: Int, value: UInt64) {
        let b = distinctIndex().encoded()
        switch width {
        case 1: #expect(UInt64(b[offset]) == value)
        case 4: #expect(UInt64(le32(b, offset)) == value)
        default: #expect(le64(b, offset) == value)
        }
    }

    @Test("byte fields sit at the spec §3 offsets and padding and reserved bytes stay zero")
    func byteFieldOffsets() {
        let i = distinctIndex()
        let b = i.encoded()
        #expect(Array(b[64..<96]) == i.publicKey)
        #expect(Array(b[96..<128]) == i.metadataChecksum)
        #expect(Array(b[128..<640]) == i.integritySignature)
        #expect(Array(b[712..<744]) == i.buildMachine)
        #expect(Array(b[744..<776]) == i.sourceHash)
        #expect(Array(b[776..<808]) == i.dependencyHash)
        #expect(Array(b[808..<824]) == i.licenseID)
        #expect(Array(b[824..<832]) == i.provenanceURI)
        #expect(Array(b[864..<1376]) == i.futureCrypto)
        #expect(Array(b[1376..<1440]) == i.attestationKeyFingerprint)
        #expect(Array(b[1440..<1504]) == i.attestationSBOMDigest)
        #expect(Array(b[1504..<1568]) == i.attestationPolicyHash)
        #expect(b[692..<704].allSatisfy { $0 == 0 }, "padding after stream_chunk_size")
        #expect(b[1568..<8192].allSatisfy { $0 == 0 }, "reserved area")
    }

    @Test("the signature accessor returns the first 64 bytes of the 512-byte field")
    func signatureAccessor() {
        let i = distinctIndex()
        #expect(i.signature == Array(i.integritySignature[0..<64]))
        #expect(i.signature.count == 64)
    }

    @Test("a fresh index carries the values every builder writes")
    func defaults() {
        let i = PackageIndex()
        #expect(i.formatVersion == 0x2025_0001)
        #expect(i.pageSize == 4096)
        #expect(i.capabilities == 0x81)
        #expect(i.compatibility == 0x2025_0001)
        #expect(i.protocolVersion == 1)
        #expect(i.buildTimestamp == 0)
        #expect(i.integritySignature.count == 512)
    }

    @Test("decoding fewer than 8192 bytes is refused as truncated")
    func shortIndex() {
        let raw = [UInt8](repeating: 0, count: PackageIndex.byteCount - 1)
        #expect(throws: FormatError.truncated(region: "index", offset: 0, need: 8192, have: 8191)) {
            try raw.withByteReader { (r) throws(FormatError) in _ = try PackageIndex(decoding: r) }
        }
    }

    @Test("sealed() stores an Adler-32 that computeChecksum reproduces")
    func sealedChecksum() {
        var i = distinctIndex()
        let sealed = i.sealed()
        let stored = le32(sealed, 4)
        #expect(stored == i.indexChecksum)
        #expect(sealed.withByteReader { PackageIndex.computeChecksum($0) } == stored)
        var zeroed = sealed
        for k in 4..<8 { zeroed[k] = 0 }
        #expect(Adler32.checksum(zeroed) == stored, "the checksum covers the block with its own field zeroed")
    }

    @Test("sealed() ignores whatever checksum was set before")
    func sealedIgnoresOldChecksum() {
        var a = distinctIndex(), b = distinctIndex()
        a.indexChecksum = 0
        b.indexChecksum = 0xDEAD_BEEF
        #expect(a.sealed() == b.sealed())
    }

    @Test("flipping any byte outside the checksum field changes the computed checksum",
          arguments: [0, 3, 8, 63, 64, 127, 128, 639, 640, 700, 1376, 1567, 1568, 4096, 8190, 8191])
    func flipChangesChecksum(offset: Int) {
        var i = distinctIndex()
        var sealed = i.sealed()
        let stored = i.indexChecksum
        sealed[offset] ^= 0x01
        #expect(sealed.withByteReader { PackageIndex.computeChecksum($0) } != stored)
    }

    @Test("bytes inside the checksum field do not feed the checksum", arguments: [4, 5, 6, 7])
    func checksumFieldExcluded(offset: Int) {
        var i = distinctIndex()
        var sealed = i.sealed()
        let stored = i.indexChecksum
        sealed[offset] ^= 0xFF
        #expect(sealed.withByteReader { PackageIndex.computeChecksum($0) } == stored)
    }
}

// MARK: Trailer

@Suite("MagicTrailer location")
struct TrailerTests {
    private static func package(launcher: Int) -> [UInt8] {
        var idx = PackageIndex()
        idx.launcherSize = UInt64(launcher)
        return [UInt8](repeating: 0x7F, count: launcher) + Trailer.encode(index: idx.sealed())
    }

    @Test("the index is found 8196 bytes before EOF, behind the 📦 magic", arguments: [0, 1, 1000])
    func locates(launcher: Int) throws {
        let file = Self.package(launcher: launcher)
        let at = try file.withByteReader { (r) throws(FormatError) in try Trailer.locateIndex(in: r) }
        #expect(at == launcher + 4)
        #expect(at == file.count - 8196)
        let idx = try file.withByteReader { (r) throws(FormatError) in
            try PackageIndex(decoding: r.slice(at..<at + PackageIndex.byteCount))
        }
        #expect(idx.launcherSize == UInt64(launcher))
    }

    @Test("the trailer is 📦, the index, then 🪄")
    func encodeFraming() {
        let idx = PackageIndex().encoded()
        let t = Trailer.encode(index: idx)
        #expect(t.count == 8200)
        #expect(Array(t[0..<4]) == [0xF0, 0x9F, 0x93, 0xA6])
        #expect(Array(t[8196..<8200]) == [0xF0, 0x9F, 0xAA, 0x84])
        #expect(Array(t[4..<8196]) == idx)
    }

    @Test("a file shorter than a trailer is refused as truncated", arguments: [0, 4, 8199])
    func shortFile(size: Int) {
        let file = [UInt8](repeating: 0, count: size)
        #expect(throws: FormatError.truncated(region: "trailer", offset: 0, need: 8200, have: size)) {
            try file.withByteReader { (r) throws(FormatError) in _ = try Trailer.locateIndex(in: r) }
        }
    }

    @Test("a wrong 📦 start magic is refused, naming its offset", arguments: [0, 1, 2, 3])
    func badStartMagic(byte: Int) {
        var file = Self.package(launcher: 10)
        file[10 + byte] ^= 0x01
        let err = #expect(throws: FormatError.self) {
            try file.withByteReader { (r) throws(FormatError) in _ = try Trailer.locateIndex(in: r) }
        }
        guard case let .badMagic(_, offset)? = err else { Issue.record("expected badMagic, got \(String(describing: err))"); return }
        #expect(offset == 10)
    }

    @Test("a wrong 🪄 end magic is refused, naming its offset", arguments: [1, 2, 3, 4])
    func badEndMagic(fromEnd: Int) {
        var file = Self.package(launcher: 10)
        file[file.count - fromEnd] ^= 0x01
        let err = #expect(throws: FormatError.self) {
            try file.withByteReader { (r) throws(FormatError) in _ = try Trailer.locateIndex(in: r) }
        }
        guard case let .badMagic(_, offset)? = err else { Issue.record("expected badMagic, got \(String(describing: err))"); return }
        #expect(offset == file.count - 4)
    }

    @Test("bytes appended after the trailer break the package: there is no scanning")
    func appendedBytes() {
        let file = Self.package(launcher: 10) + [0x00]
        #expect(throws: FormatError.self) {
            try file.withByteReader { (r) throws(FormatError) in _ = try Trailer.locateIndex(in: r) }
        }
    }
}

// MARK: Adler-32

/// Textbook Adler-32: reduce modulo 65521 after every byte.
private func referenceAdler32(_ bytes: [UInt8]) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    for x in bytes {
        a = (a + UInt32(x)) % 65521
        b = (b + a) % 65521
    }
    return b << 16 | a
}

@Suite("Adler-32")
struct Adler32Tests {
    @Test("known vectors match zlib", arguments: [
        ("", UInt32(1)), ("a", 0x0062_0062), ("abc", 0x024d_0127), ("Wikipedia", 0x11E6_0398),
    ] as [(String, UInt32)])
    func vectors(text: String, expected: UInt32) {
        #expect(Adler32.checksum(Array(text.utf8)) == expected)
    }

    @Test("inputs longer than zlib's 5552-byte run agree with a per-byte reference",
          arguments: [5551, 5552, 5553, 11_104, 100_003])
    func longInputs(count: Int) {
        let ones = [UInt8](repeating: 0xFF, count: count)
        #expect(Adler32.checksum(ones) == referenceAdler32(ones), "all 0xFF is the overflow worst case")
        var x: UInt32 = 0x1234_5678
        let mixed: [UInt8] = (0..<count).map { _ in
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            return UInt8(truncatingIfNeeded: x)
        }
        #expect(Adler32.checksum(mixed) == referenceAdler32(mixed))
    }

    @Test("zero runs of every length and alignment (skipped eight at a time) agree with the reference",
          arguments: [0, 1, 7, 8, 9, 15, 16, 17, 5551, 5553, 8192])
    func zeroRuns(run: Int) {
        for lead in 0..<9 {
            let bytes = [UInt8](repeating: 0xFF, count: lead) + [UInt8](repeating: 0, count: run) + [0x5A, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]
            #expect(Adler32.checksum(bytes) == referenceAdler32(bytes), "lead \(lead)")
        }
        // 8 KiB of an index's shape: a head of values, then zeros; past 5552 the run spans a reduction.
        var index = [UInt8](repeating: 0, count: 8192)
        for i in 0..<1500 { index[i] = UInt8(truncatingIfNeeded: i &* 37) }
        index[6000] = 0xEE
        #expect(Adler32.checksum(index) == referenceAdler32(index))
    }

    @Test("continuing from a previous checksum equals checksumming the concatenation")
    func streaming() {
        let a = [UInt8](repeating: 0xAB, count: 7000)
        let b = Array("tail bytes".utf8)
        let first = Adler32.checksum(a)
        let continued = b.withByteReader { Adler32.checksum($0, initial: first) }
        #expect(continued == Adler32.checksum(a + b))
    }
}
