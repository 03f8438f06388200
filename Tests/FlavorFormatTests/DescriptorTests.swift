import Testing
@testable import FlavorFormat

// MARK: Helpers

private func hexBytes(_ s: String) -> [UInt8] {
    let compact = String(s.filter { !$0.isWhitespace && $0 != "|" })
    guard let b = bytes(fromHex: compact) else { fatalError("bad hex literal in test: \(s)") }
    return b
}

private func decode(_ raw: [UInt8]) throws(FormatError) -> SlotDescriptor {
    try raw.withByteReader { (r) throws(FormatError) in try SlotDescriptor(decoding: r) }
}

/// sha256(hello.sh) from spec §4.4 / §5.
private let helloDigest = "23e79f16a5e1ce695e36f6c9060c8de1dd922854cc622540aaf3b355f8b11a27"

/// The verified raw descriptors of spec §5 for the same 87-byte hello.sh (mode 0755).
private let rustDescriptor = hexBytes("""
    00000000 00000000 | 6613540e 6f206201 | 202e2f00 00000000 | 57000000 00000000 | 57000000 00000000 |
    00000000 00000000 | 23e79f16 a5e1ce69 | 00 02 01 00 00 00 ed 01
    """)
private let goDescriptor = hexBytes("""
    00000000 00000000 | d40ad822 1fae6ba5 | c8af7800 00000000 | 57000000 00000000 | 57000000 00000000 |
    00000000 00000000 | 23e79f16 a5e1ce69 | 00 02 80 00 00 00 ed 01
    """)

struct SpecDescriptorCase: Sendable, CustomTestStringConvertible {
    var builder: String
    var raw: [UInt8]
    var nameHash: UInt64
    var offset: UInt64
    var priority: UInt8
    var testDescription: String { builder }
}

private let knownDescriptors = [
    SpecDescriptorCase(builder: "Rust", raw: rustDescriptor, nameHash: 0x0162_206f_0e54_1366, offset: 0x2f_2e20, priority: 1),
    SpecDescriptorCase(builder: "Go", raw: goDescriptor, nameHash: 0xa56b_ae1f_22d8_0ad4, offset: 0x78_afc8, priority: 128),
]

// MARK: SlotDescriptor

@Suite("Slot descriptor")
struct SlotDescriptorTests {
    @Test("the spec's verified raw descriptors decode field by field", arguments: knownDescriptors)
    func decodesKnown(_ k: SpecDescriptorCase) throws {
        #expect(k.raw.count == SlotDescriptor.byteCount)
        let d = try decode(k.raw)
        #expect(d.id == 0)
        #expect(d.nameHash == k.nameHash)
        #expect(d.offset == k.offset)
        #expect(d.size == 87)
        #expect(d.originalSize == 87)
        #expect(d.operations == 0)
        #expect(d.checksum == SlotDescriptor.checksumPrefix(try #require(bytes(fromHex: helloDigest))))
        #expect(d.checksum == 0x69ce_e1a5_169f_e723)
        #expect(d.purpose == 0)
        #expect(d.lifecycle == Lifecycle.runtime.rawValue)
        #expect(d.priority == k.priority)
        #expect(d.platform == 0)
        #expect(d.reserved1 == 0)
        #expect(d.reserved2 == 0)
        #expect(d.permissions == 0o755)
    }

    @Test("the spec's verified raw descriptors re-encode to the same 64 bytes", arguments: knownDescriptors)
    func reencodesKnown(_ k: SpecDescriptorCase) throws {
        #expect(try decode(k.raw).encoded() == k.raw)
    }

    @Test("on disk the checksum field holds the first 8 digest bytes in order")
    func checksumPrefixBytes() throws {
        let digest = try #require(bytes(fromHex: helloDigest))
        var d = SlotDescriptor()
        d.checksum = SlotDescriptor.checksumPrefix(digest)
        #expect(Array(d.encoded()[48..<56]) == Array(digest[0..<8]))
    }

    @Test("a descriptor with every field distinct survives encode and decode")
    func roundTrip() throws {
        var d = SlotDescriptor()
        d.id = 0x0102_0304_0506_0708
        d.nameHash = 0x1112_1314_1516_1718
        d.offset = 0x2122_2324_2526_2728
        d.size = 0x3132_3334_3536_3738
        d.originalSize = 0x4142_4344_4546_4748
        d.operations = 0x1001
        d.checksum = 0x6162_6364_6566_6768
        d.purpose = 0x71
        d.lifecycle = 0x72
        d.priority = 0x73
        d.platform = 0x74
        d.reserved1 = 0x75
        d.reserved2 = 0x76
        d.permissions = 0o4755
        let raw = d.encoded()
        #expect(raw.count == 64)
        #expect(Array(raw[56..<64]) == [0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0xED, 0x09],
                "permissions low byte then high byte")
        #expect(try decode(raw) == d)
    }

    @Test("a fresh descriptor defaults to lifecycle runtime and priority 1")
    func defaults() {
        let d = SlotDescriptor()
        #expect(d.lifecycle == 2)
        #expect(d.priority == 1)
        #expect(d.encoded().count == 64)
    }

    @Test("decoding fewer than 64 bytes is refused as truncated")
    func truncated() {
        #expect(throws: FormatError.self) { _ = try decode([UInt8](repeating: 0, count: 63)) }
    }

    @Test("dataRange returns offset ..< offset + size when the slot lies inside the file",
          arguments: [
              (UInt64(10), UInt64(5), 20, 10..<15),
              (15, 5, 20, 15..<20),
              (20, 0, 20, 20..<20),
              (0, 20, 20, 0..<20),
          ] as [(UInt64, UInt64, Int, Range<Int>)])
    func dataRangeInside(offset: UInt64, size: UInt64, fileSize: Int, expected: Range<Int>) throws {
        var d = SlotDescriptor()
        d.offset = offset
        d.size = size
        #expect(try d.dataRange(slot: 0, fileSize: fileSize) == expected)
    }

    @Test("dataRange refuses slots past EOF or whose offset + size overflows, naming the slot",
          arguments: [
              (UInt64(16), UInt64(5), 20),
              (21, 0, 20),
              (0, 21, 20),
              (UInt64.max - 3, 8, 100),
              (8, UInt64.max - 3, 100),
              (UInt64.max, 0, 100),
              (UInt64.max, UInt64.max, Int.max),
          ] as [(UInt64, UInt64, Int)])
    func dataRangeRefused(offset: UInt64, size: UInt64, fileSize: Int) {
        var d = SlotDescriptor()
        d.offset = offset
        d.size = size
        #expect(throws: FormatError.slotOutOfBounds(slot: 3, offset: offset, size: size, fileSize: UInt64(fileSize))) {
            _ = try d.dataRange(slot: 3, fileSize: fileSize)
        }
    }
}

// MARK: Lifecycle and purpose

@Suite("Lifecycle and purpose bytes")
struct LifecycleTests {
    @Test("manifest lifecycle strings map to the spec §5 bytes", arguments: [
        ("init", UInt8(0)), ("initialization", 0), ("INIT", 0), ("startup", 1), ("runtime", 2), ("shutdown", 3),
        ("cache", 4), ("cached", 4), ("temporary", 5), ("temp", 2), ("lazy", 6), ("eager", 7), ("dev", 8),
        ("development", 8), ("config", 9), ("platform", 10), ("attestation", 11), ("bogus", 2), ("", 2),
    ] as [(String, UInt8)])
    func lifecycleBytes(name: String, byte: UInt8) {
        #expect(Lifecycle(manifestName: name).rawValue == byte)
    }

    @Test("every lifecycle's canonical name maps back to itself", arguments: Lifecycle.allCases)
    func lifecycleNames(_ l: Lifecycle) {
        #expect(Lifecycle(manifestName: l.name) == l)
    }

    @Test("purpose strings map to the Rust/Go builder bytes", arguments: [
        ("payload", UInt8(0)), ("runtime", 1), ("tool", 2), ("code", 0), ("data", 0), ("config", 0),
        ("media", 0), ("other", 0),
    ] as [(String, UInt8)])
    func purposeBytes(name: String, byte: UInt8) {
        #expect(purposeByte(name) == byte)
    }
}
