/// The 8192-byte index block at the end of a package (spec §3). All integers little-endian.
public struct PackageIndex: Equatable, Sendable {
    public static let byteCount = 8192
    public static let formatVersion: UInt32 = 0x2025_0001

    public var formatVersion: UInt32 = PackageIndex.formatVersion
    public var indexChecksum: UInt32 = 0
    public var packageSize: UInt64 = 0
    public var launcherSize: UInt64 = 0
    public var metadataOffset: UInt64 = 0
    public var metadataSize: UInt64 = 0
    public var slotTableOffset: UInt64 = 0
    public var slotTableSize: UInt64 = 0
    public var slotCount: UInt32 = 0
    public var flags: UInt32 = 0
    public var publicKey = [UInt8](repeating: 0, count: 32)
    public var metadataChecksum = [UInt8](repeating: 0, count: 32)
    /// 512 bytes; Ed25519 uses the first 64.
    public var integritySignature = [UInt8](repeating: 0, count: 512)
    public var accessMode: UInt8 = 0
    public var cacheStrategy: UInt8 = 0
    public var reservedHint1: UInt8 = 0
    public var reservedHint2: UInt8 = 0
    public var pageSize: UInt32 = 4096
    public var maxMemory: UInt64 = 0
    public var minMemory: UInt64 = 0
    public var cpuFeatures: UInt64 = 0
    public var gpuRequirements: UInt64 = 0
    public var numaHints: UInt64 = 0
    public var streamChunkSize: UInt32 = 0
    public var buildTimestamp: UInt64 = 0
    public var buildMachine = [UInt8](repeating: 0, count: 32)
    public var sourceHash = [UInt8](repeating: 0, count: 32)
    public var dependencyHash = [UInt8](repeating: 0, count: 32)
    public var licenseID = [UInt8](repeating: 0, count: 16)
    public var provenanceURI = [UInt8](repeating: 0, count: 8)
    public var capabilities: UInt64 = 0x81
    public var requirements: UInt64 = 0
    public var extensions: UInt64 = 0
    public var compatibility: UInt32 = PackageIndex.formatVersion
    public var protocolVersion: UInt32 = 1
    public var futureCrypto = [UInt8](repeating: 0, count: 512)
    /// 64 ASCII hex chars or all zero (0.5.x attestation fields).
    public var attestationKeyFingerprint = [UInt8](repeating: 0, count: 64)
    public var attestationSBOMDigest = [UInt8](repeating: 0, count: 64)
    public var attestationPolicyHash = [UInt8](repeating: 0, count: 64)

    public init() {}

    /// The Ed25519 signature (first 64 bytes of the signature field).
    public var signature: [UInt8] { Array(integritySignature[0..<64]) }

    /// Decodes an index block. Does not check the checksum or the version: `validate` does.
    public init(decoding r: ByteReader) throws(FormatError) {
        guard r.count >= Self.byteCount else {
            throw .truncated(region: "index", offset: r.origin, need: Self.byteCount, have: r.count)
        }
        formatVersion = try r.u32(at: 0)
        indexChecksum = try r.u32(at: 4)
        packageSize = try r.u64(at: 8)
        launcherSize = try r.u64(at: 16)
        metadataOffset = try r.u64(at: 24)
        metadataSize = try r.u64(at: 32)
        slotTableOffset = try r.u64(at: 40)
        slotTableSize = try r.u64(at: 48)
        slotCount = try r.u32(at: 56)
        flags = try r.u32(at: 60)
        publicKey = try r.copyBytes(64..<96)
        metadataChecksum = try r.copyBytes(96..<128)
        integritySignature = try r.copyBytes(128..<640)
        accessMode = try r.u8(at: 640)
        cacheStrategy = try r.u8(at: 641)
        reservedHint1 = try r.u8(at: 642)
        reservedHint2 = try r.u8(at: 643)
        pageSize = try r.u32(at: 644)
        maxMemory = try r.u64(at: 648)
        minMemory = try r.u64(at: 656)
        cpuFeatures = try r.u64(at: 664)
        gpuRequirements = try r.u64(at: 672)
        numaHints = try r.u64(at: 680)
        streamChunkSize = try r.u32(at: 688)
        buildTimestamp = try r.u64(at: 704)
        buildMachine = try r.copyBytes(712..<744)
        sourceHash = try r.copyBytes(744..<776)
        dependencyHash = try r.copyBytes(776..<808)
        licenseID = try r.copyBytes(808..<824)
        provenanceURI = try r.copyBytes(824..<832)
        capabilities = try r.u64(at: 832)
        requirements = try r.u64(at: 840)
        extensions = try r.u64(at: 848)
        compatibility = try r.u32(at: 856)
        protocolVersion = try r.u32(at: 860)
        futureCrypto = try r.copyBytes(864..<1376)
        attestationKeyFingerprint = try r.copyBytes(1376..<1440)
        attestationSBOMDigest = try r.copyBytes(1440..<1504)
        attestationPolicyHash = try r.copyBytes(1504..<1568)
    }

    /// The 8192 bytes, with `indexChecksum` as currently set.
    public func encoded() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.byteCount)
        b.putLE(formatVersion, at: 0)
        b.putLE(indexChecksum, at: 4)
        b.putLE(packageSize, at: 8)
        b.putLE(launcherSize, at: 16)
        b.putLE(metadataOffset, at: 24)
        b.putLE(metadataSize, at: 32)
        b.putLE(slotTableOffset, at: 40)
        b.putLE(slotTableSize, at: 48)
        b.putLE(slotCount, at: 56)
        b.putLE(flags, at: 60)
        put(&b, publicKey, 64, 32)
        put(&b, metadataChecksum, 96, 32)
        put(&b, integritySignature, 128, 512)
        b[640] = accessMode; b[641] = cacheStrategy; b[642] = reservedHint1; b[643] = reservedHint2
        b.putLE(pageSize, at: 644)
        b.putLE(maxMemory, at: 648)
        b.putLE(minMemory, at: 656)
        b.putLE(cpuFeatures, at: 664)
        b.putLE(gpuRequirements, at: 672)
        b.putLE(numaHints, at: 680)
        b.putLE(streamChunkSize, at: 688)
        b.putLE(buildTimestamp, at: 704)
        put(&b, buildMachine, 712, 32)
        put(&b, sourceHash, 744, 32)
        put(&b, dependencyHash, 776, 32)
        put(&b, licenseID, 808, 16)
        put(&b, provenanceURI, 824, 8)
        b.putLE(capabilities, at: 832)
        b.putLE(requirements, at: 840)
        b.putLE(extensions, at: 848)
        b.putLE(compatibility, at: 856)
        b.putLE(protocolVersion, at: 860)
        put(&b, futureCrypto, 864, 512)
        put(&b, attestationKeyFingerprint, 1376, 64)
        put(&b, attestationSBOMDigest, 1440, 64)
        put(&b, attestationPolicyHash, 1504, 64)
        return b
    }

    /// Encodes with a freshly computed Adler-32 in bytes [4, 8).
    public mutating func sealed() -> [UInt8] {
        indexChecksum = 0
        var b = encoded()
        indexChecksum = Adler32.checksum(b)
        b.putLE(indexChecksum, at: 4)
        return b
    }

    /// Adler-32 of the raw index bytes with the checksum field taken as zero (spec §2 step 6).
    public static func computeChecksum(_ raw: ByteReader) -> UInt32 {
        guard raw.count >= byteCount, let head = try? raw.slice(0..<4), let tail = try? raw.slice(8..<byteCount) else { return 0 }
        // Runs on every launch: no 8 KiB copy. Four zero bytes leave `a` as is and add 4a to `b`.
        let h = Adler32.checksum(head)
        let a = h & 0xffff, b = ((h >> 16) + 4 * a) % 65521
        return Adler32.checksum(tail, initial: b << 16 | a)
    }

    private func put(_ b: inout [UInt8], _ src: [UInt8], _ at: Int, _ len: Int) {
        for i in 0..<min(len, src.count) { b[at + i] = src[i] }
    }
}
