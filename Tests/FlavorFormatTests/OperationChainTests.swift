import Testing
@testable import FlavorFormat

@Suite("Operation chain")
struct OperationChainTests {
    @Test("manifest operation strings pack to the spec §6 descriptor values", arguments: [
        ("tgz", UInt64(0x1001)), ("tar.gz", 0x1001), ("tar|gzip", 0x1001), ("tar,gzip", 0x1001),
        ("tar | gzip", 0x1001), ("TGZ", 0x1001), ("TAR|GZIP", 0x1001),
        ("gzip", 0x10), ("gz", 0x10), ("GZIP", 0x10), (" gzip ", 0x10),
        ("tar", 0x01),
        ("none", 0), ("raw", 0), ("", 0), ("NONE", 0),
        ("zstd", 0x1B), ("tar|zstd", 0x1B01), ("tzst", 0x1B01), ("tar.zst", 0x1B01), ("tar.zstd", 0x1B01),
    ] as [(String, UInt64)])
    func manifestStrings(text: String, packed: UInt64) throws {
        #expect(try OperationChain(manifest: text).packed == packed)
    }

    @Test("unknown manifest operation strings are refused instead of silently stored raw", arguments: [
        "bzip2", "xz", "tar.xz", "tar|bogus", "gzip,lz4", "tar.bz2", "zip",
    ])
    func unknownStrings(text: String) {
        let err = #expect(throws: FormatError.self) { _ = try OperationChain(manifest: text) }
        guard case .badOperations? = err else { Issue.record("expected badOperations, got \(String(describing: err))"); return }
    }

    @Test("a manifest string made only of separators is refused, not stored raw",
          arguments: ["|", ",", " , ", "||"])
    func separatorsOnly(text: String) {
        #expect(throws: FormatError.self) { _ = try OperationChain(manifest: text) }
    }

    @Test("more than eight operations do not fit a u64 and are refused")
    func tooManyOperations() throws {
        let nine = Array(repeating: "gzip", count: 9).joined(separator: "|")
        #expect(throws: FormatError.self) { _ = try OperationChain(manifest: nine) }
        let eight = Array(repeating: "gzip", count: 8).joined(separator: "|")
        #expect(try OperationChain(manifest: eight).packed == 0x1010_1010_1010_1010)
    }

    @Test("packed values decode to operations, first-applied in the lowest byte", arguments: [
        (UInt64(0), [Operation]()), (0x01, [.tar]), (0x10, [.gzip]), (0x1B, [.zstd]),
        (0x1001, [.tar, .gzip]), (0x1B01, [.tar, .zstd]),
    ] as [(UInt64, [Operation])])
    func packedValues(packed: UInt64, ops: [Operation]) throws {
        let chain = try OperationChain(packed: packed)
        #expect(chain.operations == ops)
        #expect(chain.packed == packed)
    }

    @Test("zero bytes between operations are skipped, as the Rust launcher does", arguments: [
        UInt64(0x1000_0001), 0x0010_0000_0000_0100, 0x1000_0000_0000_0001,
    ])
    func zerosSkipped(packed: UInt64) throws {
        #expect(try OperationChain(packed: packed).operations == [.tar, .gzip])
    }

    @Test("a packed value with an unknown operation byte is refused, naming the code", arguments: [
        UInt64(0x13), 0x1301, 0x02, 0xFF00_0000_0000_0000, 0x0000_0016_0000_1001,
    ])
    func unknownPackedByte(packed: UInt64) {
        let err = #expect(throws: FormatError.self) { _ = try OperationChain(packed: packed) }
        guard case let .badOperations(why)? = err else { Issue.record("expected badOperations, got \(String(describing: err))"); return }
        #expect(why.contains("0x"))
    }

    @Test("the canonical manifest name is one every builder understands and parses back", arguments: [
        (OperationChain.none, "none"), (OperationChain.tgz, "tgz"), (OperationChain([.gzip]), "gzip"),
        (OperationChain([.tar]), "tar"), (OperationChain([.tar, .zstd]), "tar|zstd"), (OperationChain([.zstd]), "zstd"),
    ] as [(OperationChain, String)])
    func manifestNames(chain: OperationChain, name: String) throws {
        #expect(chain.manifestName == name)
        #expect(try OperationChain(manifest: name) == chain)
        #expect(try OperationChain(packed: chain.packed) == chain)
    }

    @Test("containsTar is true only for chains with a tar step")
    func containsTar() {
        #expect(OperationChain.tgz.containsTar)
        #expect(OperationChain([.tar]).containsTar)
        #expect(!OperationChain([.gzip]).containsTar)
        #expect(!OperationChain.none.containsTar)
    }
}
