import Foundation
import Testing
import FlavorBuild
import FlavorFormat
import FlavorSys
@testable import FlavorEngine

// MARK: Fixture

private let launcherPath = "/bin/true"
private let epoch: Int64 = 1_700_000_000

/// A source tree, a manifest and an output directory under one temp dir.
///
///     hello.sh                      slot 0, raw file, 0755, target bin/hello.sh
///     tree/bin/run                  slot 1, directory packed as tgz, target app
///     tree/data/a.txt
///     tree/data/nested/deep/b.bin
///     tree/data/empty/
private struct Fixture {
    let base: String
    var manifestPath: String { base + "/src/manifest.json" }
    var treePath: String { base + "/src/tree" }
    var helloPath: String { base + "/src/hello.sh" }

    static let hello = Array("#!/bin/sh\necho \"hello from flavor: $GREETING\"\n".utf8)

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("packverify-\(UUID().uuidString)").path
        let fm = FileManager.default
        for d in ["src/tree/bin", "src/tree/data/nested/deep", "src/tree/data/empty", "out"] {
            try fm.createDirectory(atPath: base + "/" + d, withIntermediateDirectories: true)
        }
        try Self.write(helloPath, Self.hello, mode: 0o755)
        try Self.write(treePath + "/bin/run", Array("#!/bin/sh\nexec echo run \"$@\"\n".utf8), mode: 0o755)
        try Self.write(treePath + "/data/a.txt", Array("alpha\n".utf8), mode: 0o644)
        try Self.write(treePath + "/data/nested/deep/b.bin", (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }, mode: 0o600)
        for d in ["", "/bin", "/data", "/data/nested", "/data/nested/deep"] {
            try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: treePath + d)
        }
        try fm.setAttributes([.posixPermissions: 0o750], ofItemAtPath: treePath + "/data/empty")
        let manifest = """
            {
              "package": {"name": "demo", "version": "1.2.3"},
              "execution": {"command": "{workenv}/app/bin/run", "env": {"GREETING": "hi"}},
              "slots": [
                {"slot": 0, "id": "hello", "source": "hello.sh", "target": "bin/hello.sh",
                 "operations": "none", "permissions": "0755"},
                {"slot": 1, "id": "tree", "source": "tree", "target": "app", "operations": "tgz"}
              ]
            }
            """
        try Self.write(manifestPath, Array(manifest.utf8), mode: 0o644)
    }

    func remove() { try? FileManager.default.removeItem(atPath: base) }

    static func write(_ path: String, _ bytes: [UInt8], mode: Int) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    func plan(seed: String = "t") throws -> PackPlan {
        let options = Manifest.Options(launcherPath: launcherPath, key: Ed25519.keyPair(seedString: seed), deterministic: true)
        var plan = try Manifest.load(path: manifestPath, options: options)
        plan.sourceDateEpoch = epoch
        return plan
    }

    /// Packs and returns the package path under `out/`.
    @discardableResult
    func pack(_ name: String = "demo.psp", seed: String = "t") throws -> String {
        let output = base + "/out/" + name
        _ = try Packer.pack(try plan(seed: seed), to: output, settings: .forTests())
        return output
    }

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Writes a modified copy of `package` and returns its path.
    func variant(of package: String, named name: String, _ edit: (inout [UInt8], PackageReader) throws -> Void) throws -> String {
        let pkg = try PackageReader(path: package)
        var b = try bytes(package)
        try edit(&b, pkg)
        let path = base + "/out/" + name
        try Data(b).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Every file and directory under `root`: relative path → kind, permission bits, contents.
private func snapshot(_ root: String) throws -> [String: String] {
    var out = [String: String]()
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: root) else { return out }
    for case let rel as String in e {
        let full = root + "/" + rel
        let attrs = try fm.attributesOfItem(atPath: full)
        let mode = String((attrs[.posixPermissions] as? Int) ?? -1, radix: 8)
        if attrs[.type] as? FileAttributeType == .typeDirectory {
            out[rel] = "dir \(mode)"
        } else if attrs[.type] as? FileAttributeType == .typeSymbolicLink {
            out[rel] = "link -> " + ((try? fm.destinationOfSymbolicLink(atPath: full)) ?? "?")
        } else {
            let data = fm.contents(atPath: full) ?? Data()
            out[rel] = "file \(mode) \(data.count) \(hex(bytes: SHA256.hash([UInt8](data))))"
        }
    }
    return out
}

private func failing(_ r: VerificationReport) -> Set<String> { Set(r.checks.filter { !$0.passed }.map(\.name)) }

private func check(_ r: VerificationReport, _ name: String, slot: Int? = nil) -> VerificationCheck? {
    r.checks.first { $0.name == name && $0.slot == slot }
}

private func flip(_ b: inout [UInt8], _ at: Int) { b[at] ^= 0x5A }

private func descriptorOffset(_ pkg: PackageReader, _ i: Int) -> Int { Int(pkg.index.slotTableOffset) + 64 * i }

// MARK: Pack and verify

@Suite("Pack, verify, extract")
struct PackVerifyTests {
    @Test("a freshly packed package passes every verification check")
    func verifies() throws {
        let f = try Fixture(); defer { f.remove() }
        let pkg = try PackageReader(path: try f.pack())
        let report = Verifier.fullReport(pkg)
        #expect(report.valid, "first failure: \(report.firstFailure.map { "\($0.name): \($0.detail)" } ?? "none")")
        let names = report.checks.map(\.name)
        for name in ["trailer", "index-checksum", "package-size", "metadata-checksum", "signature", "key-fingerprint", "metadata-decode"] {
            #expect(names.contains(name), "missing check \(name)")
        }
        // The two slots of the plan, then the attestation the packer appends (its digest is in the index).
        #expect(report.checks.filter { $0.name == "slot-descriptor-checksum" }.compactMap(\.slot) == [0, 1, 2])
        #expect(report.checks.filter { $0.name == "slot-signed-checksum" }.compactMap(\.slot) == [0, 1, 2])
        #expect(names.contains("attestation-digest"))
        let m = try #require(report.metadata)
        #expect(m.packageName == "demo")
        #expect(m.packageVersion == "1.2.3")
        #expect(m.command == "{workenv}/app/bin/run")
        #expect(m.slots.map(\.id) == ["hello", "tree", "_attestation"])
        #expect(try Verifier.verifyHeader(pkg).packageName == "demo")
        for i in 0..<3 { try Verifier.verifySlot(pkg, i, m) }
    }

    @Test("the package layout follows spec §1, §3 and §5")
    func layout() throws {
        let f = try Fixture(); defer { f.remove() }
        let path = try f.pack()
        let pkg = try PackageReader(path: path)
        let bytes = try f.bytes(path)
        let launcher = try f.bytes(launcherPath)
        let idx = pkg.index
        let key = Ed25519.keyPair(seedString: "t")

        #expect(Array(bytes[0..<launcher.count]) == launcher, "the launcher is copied verbatim at offset 0")
        #expect(idx.launcherSize == UInt64(launcher.count))
        #expect(idx.metadataOffset == idx.launcherSize)
        #expect(idx.packageSize == UInt64(bytes.count))
        #expect(pkg.indexOffset == bytes.count - 8196)
        #expect(idx.slotCount == 3, "two slots and the attestation")
        #expect(idx.slotTableSize == 192)
        #expect(idx.slotTableOffset % 8 == 0)
        #expect(idx.slotTableOffset >= idx.metadataOffset + idx.metadataSize)
        #expect(idx.slotTableOffset - (idx.metadataOffset + idx.metadataSize) < 8)
        #expect(idx.publicKey == key.publicKey)
        #expect(idx.metadataChecksum == SHA256.hash(Array(bytes[Int(idx.metadataOffset)..<Int(idx.metadataOffset + idx.metadataSize)])))
        #expect(idx.attestationKeyFingerprint == Array(hex(bytes: SHA256.hash(key.publicKey)).utf8))

        let d = pkg.descriptors
        try #require(d.count == 3)
        #expect(d[0].offset == idx.slotTableOffset + idx.slotTableSize, "slot 0 follows the table")
        #expect(d.allSatisfy { $0.offset % 8 == 0 })
        #expect(d[2].offset + d[2].size == UInt64(bytes.count - Trailer.byteCount), "the last slot (the attestation) ends at the trailer")
        #expect(d.map(\.id) == [0, 1, 2])
        #expect(d[2].lifecycle == 11 && d[2].operations == 0, "attestation, stored as is")
        #expect(Array(idx.attestationSBOMDigest.prefix(64)) == Array(hex(bytes: SHA256.hash(Array(bytes[Int(d[2].offset)..<Int(d[2].offset + d[2].size)]))).utf8))
        #expect(d[0].nameHash == SlotDescriptor.checksumPrefix(SHA256.hash(Array("hello".utf8))))
        #expect(d[1].nameHash == SlotDescriptor.checksumPrefix(SHA256.hash(Array("tree".utf8))))
        #expect(d[0].operations == 0)
        #expect(d[0].size == UInt64(Fixture.hello.count))
        #expect(d[0].originalSize == d[0].size)
        #expect(d[0].permissions == 0o755)
        #expect(d[1].operations == 0x1001)
        #expect(d[1].originalSize % 512 == 0, "the decoded size of a tar slot is whole tar blocks")
        #expect(d[0].checksum == SlotDescriptor.checksumPrefix(SHA256.hash(Fixture.hello)))
    }

    @Test("the spec's name hashes are SHA-256 prefixes: Rust hashes the slot id, Go the target")
    func specNameHashes() {
        #expect(SlotDescriptor.checksumPrefix(SHA256.hash(Array("hello-script".utf8))) == 0x0162_206f_0e54_1366)
        #expect(SlotDescriptor.checksumPrefix(SHA256.hash(Array("bin/hello.sh".utf8))) == 0xa56b_ae1f_22d8_0ad4)
    }

    @Test("extracting every slot gives back exactly the source tree under the slot targets", arguments: IOVariant.allCases)
    func extractsTree(_ io: IOVariant) throws {
        let f = try Fixture(); defer { f.remove() }
        let pkg = try PackageReader(path: try f.pack())
        let m = try Verifier.verifyHeader(pkg)
        let root = f.base + "/extract"
        let writer = try io.writer(root)
        let raw = try Extractor.extract(pkg, slot: 0, metadata: m, into: writer, settings: io.settings)
        let tree = try Extractor.extract(pkg, slot: 1, metadata: m, into: writer, settings: io.settings)

        #expect(raw.relativePath == "bin/hello.sh")
        #expect(raw.files == 1)
        #expect(raw.bytes == Fixture.hello.count)
        #expect(tree.relativePath == "")
        #expect(tree.files == 3)
        #expect(tree.bytes == 6 + 3000 + Array("#!/bin/sh\nexec echo run \"$@\"\n".utf8).count)

        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["app", "bin"])
        #expect(try snapshot(root + "/app") == snapshot(f.treePath))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/bin") == ["hello.sh"])
        #expect(FileManager.default.contents(atPath: root + "/bin/hello.sh") == Data(Fixture.hello))
        let attrs = try FileManager.default.attributesOfItem(atPath: root + "/bin/hello.sh")
        #expect(attrs[.posixPermissions] as? Int == 0o755)
    }

    @Test("packing twice with the same seed and SOURCE_DATE_EPOCH gives byte-identical files")
    func deterministic() throws {
        let f = try Fixture(); defer { f.remove() }
        let a = try f.bytes(try f.pack("a.psp"))
        let b = try f.bytes(try f.pack("b.psp"))
        #expect(a == b)
        let c = try f.bytes(try f.pack("c.psp", seed: "other"))
        #expect(c != a, "a different key must change the package")
    }

    @Test("the packer leaves no temporary file behind")
    func noTemporaries() throws {
        let f = try Fixture(); defer { f.remove() }
        try f.pack()
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.base + "/out") == ["demo.psp"])
    }
}

// MARK: Tamper matrix

/// One modification of a valid package, and which verification checks it must trip.
/// Verifier.fullReport runs: trailer, index-checksum, package-size, metadata-checksum,
/// (metadata-decode if gunzip fails), signature, key-fingerprint, metadata-decode, then per slot
/// slot-descriptor-checksum and slot-signed-checksum.
enum Tamper: String, CaseIterable, Sendable {
    case slotData, compressedMetadata, signatureField, indexReserved, metadataChecksumField, forgedSlot

    /// The first failing check in report order.
    var firstFailure: String {
        switch self {
        case .slotData: return "slot-descriptor-checksum"
        case .compressedMetadata: return "metadata-checksum"
        case .signatureField, .indexReserved, .metadataChecksumField: return "index-checksum"
        case .forgedSlot: return "slot-signed-checksum"
        }
    }

    /// Checks that must fail (at least these).
    var mustFail: Set<String> {
        switch self {
        case .slotData: return ["slot-descriptor-checksum", "slot-signed-checksum"]
        case .compressedMetadata: return ["metadata-checksum"]
        case .signatureField: return ["index-checksum", "signature"]
        case .indexReserved: return ["index-checksum"]
        case .metadataChecksumField: return ["index-checksum", "metadata-checksum"]
        case .forgedSlot: return ["slot-signed-checksum"]
        }
    }

    /// Header checks that must still pass.
    var mustPass: Set<String> {
        switch self {
        case .slotData, .forgedSlot: return ["index-checksum", "package-size", "metadata-checksum", "signature", "metadata-decode"]
        case .compressedMetadata: return ["index-checksum", "package-size"]
        case .signatureField: return ["package-size", "metadata-checksum"]
        case .indexReserved: return ["package-size", "metadata-checksum", "signature", "key-fingerprint", "metadata-decode"]
        case .metadataChecksumField: return ["package-size", "signature", "metadata-decode"]
        }
    }

    func apply(_ b: inout [UInt8], _ pkg: PackageReader) {
        let idx = pkg.indexOffset
        switch self {
        case .slotData:
            flip(&b, Int(pkg.descriptors[0].offset) + 5)
        case .compressedMetadata:
            flip(&b, Int(pkg.index.metadataOffset + pkg.index.metadataSize / 2))
        case .signatureField:
            flip(&b, idx + 128 + 10)
        case .indexReserved:
            flip(&b, idx + 4000)
        case .metadataChecksumField:
            flip(&b, idx + 96)
        case .forgedSlot:
            let d = pkg.descriptors[0]
            let start = Int(d.offset), end = start + Int(d.size)
            flip(&b, start + 5)
            var forged = d
            forged.checksum = SlotDescriptor.checksumPrefix(SHA256.hash(Array(b[start..<end])))
            b.replaceSubrange(descriptorOffset(pkg, 0)..<descriptorOffset(pkg, 0) + 64, with: forged.encoded())
        }
    }
}

@Suite("Tamper detection")
struct TamperTests {
    @Test("each tampered region makes the report invalid with the right first failure", arguments: Tamper.allCases)
    func tamper(_ t: Tamper) throws {
        let f = try Fixture(); defer { f.remove() }
        let path = try f.variant(of: try f.pack(), named: "tampered.psp") { b, pkg in t.apply(&b, pkg) }
        let report = Verifier.fullReport(try PackageReader(path: path))
        #expect(!report.valid)
        #expect(report.firstFailure?.name == t.firstFailure)
        let failed = failing(report)
        #expect(t.mustFail.isSubset(of: failed), "failed: \(failed.sorted())")
        let passed = Set(report.checks.filter(\.passed).map(\.name))
        #expect(t.mustPass.isSubset(of: passed), "passed: \(passed.sorted())")
        #expect(t.mustPass.isDisjoint(with: failed), "failed: \(failed.sorted())")
    }

    @Test("a forged slot with a rewritten descriptor checksum is caught only by the signed metadata digest")
    func forgedSlot() throws {
        let f = try Fixture(); defer { f.remove() }
        let path = try f.variant(of: try f.pack(), named: "forged.psp") { b, pkg in Tamper.forgedSlot.apply(&b, pkg) }
        let pkg = try PackageReader(path: path)
        let report = Verifier.fullReport(pkg)
        #expect(check(report, "slot-descriptor-checksum", slot: 0)?.passed == true)
        #expect(check(report, "slot-signed-checksum", slot: 0)?.passed == false)
        #expect(check(report, "slot-signed-checksum", slot: 1)?.passed == true)
        let m = try Verifier.verifyHeader(pkg)
        let err = #expect(throws: EngineError.self) { try Verifier.verifySlot(pkg, 0, m) }
        #expect(err?.kind == .integrity)
    }

    @Test("verifyHeader throws an integrity error for a tampered header", arguments: [
        Tamper.compressedMetadata, .signatureField, .indexReserved, .metadataChecksumField,
    ])
    func headerThrows(_ t: Tamper) throws {
        let f = try Fixture(); defer { f.remove() }
        let path = try f.variant(of: try f.pack(), named: "tampered.psp") { b, pkg in t.apply(&b, pkg) }
        let err = #expect(throws: EngineError.self) { _ = try Verifier.verifyHeader(try PackageReader(path: path)) }
        #expect(err?.kind == .integrity)
        #expect(err?.message.contains(t.firstFailure) == true, "\(err?.message ?? "")")
    }

    @Test("the descriptor priority byte is not protected by any check (spec §9.6)")
    func priorityByteUnprotected() throws {
        let f = try Fixture(); defer { f.remove() }
        let path = try f.variant(of: try f.pack(), named: "priority.psp") { b, pkg in flip(&b, descriptorOffset(pkg, 0) + 58) }
        let pkg = try PackageReader(path: path)
        #expect(pkg.descriptors[0].priority != 1)
        #expect(Verifier.fullReport(pkg).valid)
    }

    @Test("a package whose size field disagrees with the file fails package-size")
    func packageSizeField() throws {
        let f = try Fixture(); defer { f.remove() }
        let path = try f.variant(of: try f.pack(), named: "size.psp") { b, pkg in
            var idx = pkg.index
            idx.packageSize += 1
            let sealed = idx.sealed()
            b.replaceSubrange(pkg.indexOffset..<pkg.indexOffset + PackageIndex.byteCount, with: sealed)
        }
        let report = Verifier.fullReport(try PackageReader(path: path))
        #expect(report.firstFailure?.name == "package-size")
        #expect(check(report, "index-checksum")?.passed == true)
    }

    @Test("a file without the trailer is refused as unreadable")
    func truncatedPackage() throws {
        let f = try Fixture(); defer { f.remove() }
        let path = try f.variant(of: try f.pack(), named: "cut.psp") { b, _ in b.removeLast() }
        let err = #expect(throws: EngineError.self) { _ = try PackageReader(path: path) }
        #expect(err?.kind == .unreadable)
    }
}

// MARK: Extraction refusals

@Suite("Extractor refusals")
struct ExtractorRefusalTests {
    /// A package whose tgz slot descriptor was edited by `edit`, opened and header-verified.
    private func editedTreeSlot(_ f: Fixture, _ edit: @escaping (inout SlotDescriptor) -> Void) throws -> (PackageReader, Metadata) {
        let path = try f.variant(of: try f.pack(), named: "edited.psp") { b, pkg in
            var d = pkg.descriptors[1]
            edit(&d)
            b.replaceSubrange(descriptorOffset(pkg, 1)..<descriptorOffset(pkg, 1) + 64, with: d.encoded())
        }
        let pkg = try PackageReader(path: path)
        return (pkg, try Verifier.verifyHeader(pkg))
    }

    @Test("a gzip slot whose descriptor original_size lies is refused as an extraction error", arguments: [
        Int64(1), -1, 4096, -512,
    ])
    func lyingOriginalSize(delta: Int64) throws {
        let f = try Fixture(); defer { f.remove() }
        var truth: UInt64 = 0
        let (pkg, m) = try editedTreeSlot(f) { d in
            truth = d.originalSize
            d.originalSize = UInt64(Int64(d.originalSize) + delta)
        }
        #expect(pkg.descriptors[1].originalSize != pkg.descriptors[1].size, "the lie must not look like an upstream size")
        #expect(pkg.descriptors[1].originalSize != truth)
        let root = f.base + "/extract"
        let err = #expect(throws: EngineError.self) {
            _ = try Extractor.extract(pkg, slot: 1, metadata: m, into: try plainWriter(root), settings: .forTests())
        }
        #expect(err?.kind == .extraction)
    }

    @Test("the honest original_size extracts after the same edit round trip")
    func honestOriginalSize() throws {
        let f = try Fixture(); defer { f.remove() }
        let (pkg, m) = try editedTreeSlot(f) { _ in }
        let out = try Extractor.extract(pkg, slot: 1, metadata: m, into: try plainWriter(f.base + "/extract"), settings: .forTests())
        #expect(out.files == 3)
    }

    @Test("a slot with an unsupported operation code is refused as an extraction error", arguments: [
        UInt64(0x13), 0x1301, 0x101B10,
    ])
    func unsupportedOperations(ops: UInt64) throws {
        let f = try Fixture(); defer { f.remove() }
        let (pkg, m) = try editedTreeSlot(f) { d in d.operations = ops }
        let err = #expect(throws: EngineError.self) {
            _ = try Extractor.extract(pkg, slot: 1, metadata: m, into: try plainWriter(f.base + "/extract"), settings: .forTests())
        }
        #expect(err?.kind == .extraction)
    }

    @Test("a descriptor original_size too large for memory is refused instead of trapping")
    func hugeOriginalSize() throws {
        let f = try Fixture(); defer { f.remove() }
        let (pkg, m) = try editedTreeSlot(f) { d in d.originalSize = UInt64.max }
        let err = #expect(throws: EngineError.self) {
            _ = try Extractor.extract(pkg, slot: 1, metadata: m, into: try plainWriter(f.base + "/extract"), settings: .forTests())
        }
        #expect(err?.kind == .extraction)
    }
}
