import FlavorFormat
import FlavorSys

/// Result of one named check, for `flavor verify` and the launcher's CLI verify.
public struct VerificationCheck: Sendable {
    public var name: String
    public var passed: Bool
    public var detail: String
    public var slot: Int?
}

public struct VerificationReport: Sendable {
    public var checks: [VerificationCheck] = []
    public var metadata: Metadata?
    public var valid: Bool { checks.allSatisfy { $0.passed } }
    public var firstFailure: VerificationCheck? { checks.first { !$0.passed } }
}

/// The checks of spec §2/§3/§9.2, plus what upstream skips: slot bytes against the *signed*
/// metadata digest. Header checks are cheap (index + metadata only); slot checks read slot bytes.
public enum Verifier {
    /// Index checksum, format, package size, metadata SHA-256, signature, key fingerprint,
    /// metadata decoding. Returns the verified metadata; throws the first failure.
    /// `deferSlots`: the slot list is counted, not parsed (the launcher; see Metadata).
    /// `memo`: the workenv whose signature record may stand in for the Ed25519 check (SignatureMemo).
    public static func verifyHeader(_ pkg: PackageReader, deferSlots: Bool = false, memo: WorkenvPaths? = nil) throws(EngineError) -> Metadata {
        var report = VerificationReport()
        headerChecks(pkg, into: &report, verbose: false, deferSlots: deferSlots, memo: memo)
        if let f = report.firstFailure { throw EngineError(.integrity, "\(pkg.path): \(f.name): \(f.detail)") }
        guard let m = report.metadata else { throw EngineError(.format, "\(pkg.path): metadata unreadable") }
        return m
    }

    /// Verifies slot `i`'s stored bytes against the descriptor prefix and the signed digest.
    public static func verifySlot(_ pkg: PackageReader, _ i: Int, _ metadata: Metadata) throws(EngineError) {
        if let f = slotChecks(pkg, i, metadata, verbose: false).first(where: { !$0.passed }) {
            throw EngineError(.integrity, "\(pkg.path): slot \(i)\(slotName(metadata, i)): \(f.name): \(f.detail)")
        }
    }

    /// Every check, collected (nothing thrown), for reports.
    public static func fullReport(_ pkg: PackageReader) -> VerificationReport {
        var report = VerificationReport()
        headerChecks(pkg, into: &report, verbose: true)
        guard let m = report.metadata else { return report }
        for i in 0..<pkg.descriptors.count { report.checks += slotChecks(pkg, i, m, verbose: true) }
        return report
    }

    static func slotName(_ m: Metadata, _ i: Int) -> String {
        i < m.slots.count ? " \"\(m.slots[i].id)\"" : ""
    }

    /// Details of passing checks are only built for reports (`verbose`): the launcher runs
    /// these on every start and must not spend time formatting hex it never prints.
    static func headerChecks(_ pkg: PackageReader, into r: inout VerificationReport, verbose: Bool, deferSlots: Bool = false,
                             memo memoPaths: WorkenvPaths? = nil, metadataMemo: Bool = true) {
        let idx = pkg.index
        func add(_ name: String, _ ok: Bool, _ detail: @autoclosure () -> String) {
            // The launcher (not verbose) only needs failures: no array of passed checks per start.
            if ok && !verbose { return }
            r.checks.append(VerificationCheck(name: name, passed: ok, detail: ok && !verbose ? "" : detail()))
        }
        add("trailer", true, "📦/🪄 magics at EOF-8200 and EOF-4")
        let computed = PackageIndex.computeChecksum(pkg.indexBytes)
        add("index-checksum", computed == idx.indexChecksum,
            computed == idx.indexChecksum ? "Adler-32 0x\(hex(UInt64(computed), width: 8))"
                : "stored 0x\(hex(UInt64(idx.indexChecksum), width: 8)), computed 0x\(hex(UInt64(computed), width: 8)) (index block at offset \(pkg.indexOffset) was modified)")
        add("package-size", idx.packageSize == UInt64(pkg.file.size),
            "index says \(idx.packageSize) bytes, file has \(pkg.file.size)")
        let digest = SHA256.hash(pkg.compressedMetadata)
        let metaOK = digest == idx.metadataChecksum
        add("metadata-checksum", metaOK,
            metaOK ? "SHA-256 \(hex(bytes: digest))" : "SHA-256 of compressed metadata (offset \(idx.metadataOffset), \(idx.metadataSize) bytes) is \(hex(bytes: digest)), index says \(hex(bytes: idx.metadataChecksum))")
        // The record is keyed by the digest computed above, so it only stands for these exact bytes.
        let memo = metaOK ? memoPaths.map { SignatureMemo(paths: $0, publicKey: idx.publicKey, signature: idx.signature, metadataDigest: digest) } : nil
        // Its metadata memo (written only after a start whose every check passed) holds these bytes'
        // JSON: no gunzip, and it stands for the signature record.
        let memoized = deferSlots && metadataMemo ? memo?.metadata() : nil
        let json: [UInt8]
        if let memoized { json = memoized.json } else {
            do { json = try pkg.metadataJSONBytes() } catch {
                add("metadata-decode", false, error.message); return
            }
        }
        let remembered = memoized != nil || (memo?.holds() ?? false)
        let sigOK = remembered || Ed25519.verify(signature: idx.signature, message: json, publicKey: idx.publicKey)
        if sigOK && !remembered { memo?.record() }
        add("signature", sigOK, sigOK ? "Ed25519 over \(json.count) bytes of metadata JSON, key \(fingerprint(idx.publicKey).prefix(16))…"
            : "Ed25519 signature does not match the metadata JSON and embedded public key")
        let fp = idx.attestationKeyFingerprint
        if fp.contains(where: { $0 != 0 }) {
            // Compare bytes, not hex strings: this runs on every launch.
            let ok = bytes(fromHex: String(decoding: fp, as: UTF8.self)) == SHA256.hash(idx.publicKey)
            add("key-fingerprint", ok, ok ? "attestation_key_fp = SHA-256(public key)"
                : "attestation_key_fp does not match the embedded public key")
        }
        let sbomDigest = idx.attestationSBOMDigest
        if sbomDigest.contains(where: { $0 != 0 }) {
            // The attestation is not extracted, so this is where its bytes are bound: every start.
            if let i = Attestation.slotIndex(pkg), let stored = try? pkg.slotBytes(i) {
                let ok = bytes(fromHex: String(decoding: sbomDigest.prefix { $0 != 0 }, as: UTF8.self)) == SHA256.hash(stored)
                add("attestation-digest", ok, ok ? "attestation slot \(i) (SBOM, provenance): SHA-256 = attestation_sbom_digest"
                    : "attestation slot \(i) (SBOM, provenance) does not match attestation_sbom_digest in the index: it was modified")
            } else {
                add("attestation-digest", false, "attestation_sbom_digest is set but the package has no readable attestation slot")
            }
        }
        do {
            let m = try pkg.metadata(jsonBytes: json, deferSlots: deferSlots, slotsAt: memoized?.slots)
            let countOK = m.slotCount == pkg.descriptors.count
            add("metadata-decode", countOK, countOK ? "\(m.slotCount) slots, package \(m.packageName) \(m.packageVersion)"
                : "metadata lists \(m.slotCount) slots, slot table has \(pkg.descriptors.count)")
            if countOK { r.metadata = m }
            let ph = idx.attestationPolicyHash
            if ph.contains(where: { $0 != 0 }) {
                let computed = m.policy.map(PackagePolicy.hash)
                let stored = String(decoding: ph.prefix { $0 != 0 }, as: UTF8.self)
                add("policy-hash", computed == stored, computed == nil ? "attestation_policy_hash is set but the metadata has no policy"
                    : computed == stored ? "attestation_policy_hash = SHA-256 of the metadata policy" : "attestation_policy_hash \(stored) does not match the metadata policy (\(computed!))")
            }
        } catch {
            if memoized != nil {
                // A memo that does not parse is no memo: everything again from the package's bytes.
                r = VerificationReport()
                headerChecks(pkg, into: &r, verbose: verbose, deferSlots: deferSlots, memo: memoPaths, metadataMemo: false)
                return
            }
            add("metadata-decode", false, error.message)
        }
        if memoized == nil, let memo, r.firstFailure == nil, let slots = r.metadata?.deferredSlotList {
            memo.recordMetadata(json: json, slots: slots)
        }
    }

    static func slotChecks(_ pkg: PackageReader, _ i: Int, _ m: Metadata, verbose: Bool) -> [VerificationCheck] {
        var out = [VerificationCheck]()
        func add(_ name: String, _ ok: Bool, _ detail: @autoclosure () -> String) {
            out.append(VerificationCheck(name: name, passed: ok, detail: ok && !verbose ? "" : detail(), slot: i))
        }
        let d = pkg.descriptors[i]
        let sm = m.slots[i]
        if sm.selfRef || sm.source == "$SELF" {
            add("slot-self-reference", false, "$SELF slots are not supported (upstream 0.5.4 cannot run them either)")
            return out
        }
        let bytes: ByteReader
        do { bytes = try pkg.slotBytes(i) } catch { add("slot-bounds", false, error.message); return out }
        let digest = hashReleasing(pkg, bytes, from: Int(d.offset))
        let prefix = SlotDescriptor.checksumPrefix(digest)
        add("slot-descriptor-checksum", prefix == d.checksum,
            prefix == d.checksum ? "SHA-256 prefix 0x\(hex(prefix, width: 16))"
                : "stored bytes (offset 0x\(hex(d.offset)), \(d.size) bytes) hash to prefix 0x\(hex(prefix, width: 16)), descriptor says 0x\(hex(d.checksum, width: 16))")
        if let signed = sm.signedDigest {
            let ok = Array(digest[0..<signed.count]) == signed
            add("slot-signed-checksum", ok, ok ? "SHA-256 matches signed metadata"
                : "stored bytes (offset 0x\(hex(d.offset)), \(d.size) bytes) fail SHA-256 from signed metadata")
        } else {
            add("slot-signed-checksum", false, "signed metadata has no usable checksum for this slot (\"\(sm.checksum)\")")
        }
        if let (ok, detail) = originalSizeCheck(d, bytes) { add("slot-original-size", ok, detail) }
        if verbose && sm.chunkIndexChecksum != nil {
            // What our launcher checks instead of the whole-slot digest (ChunkedGzip): reports only.
            let (ok, detail) = chunkIndexCheck(bytes, signed: sm.chunkIndexDigest)
            add("slot-chunk-index", ok, detail)
        }
        return out
    }

    /// original_size is not signed, and a lie in it would only surface while decoding (after other
    /// slots were written): the codec's own size field catches it before a byte is written, for 4
    /// bytes read. nil when the descriptor declares no decoded size or the codec states none.
    public static func originalSizeCheck(_ d: SlotDescriptor, _ bytes: ByteReader) -> (Bool, String)? {
        guard let chain = try? OperationChain(packed: d.operations), let declared = SlotDecoder.declaredSize(d, chain) else { return nil }
        if chain.operations.contains(.gzip), let n = Inflater.gzipSizeHint(bytes) {
            let ok = UInt32(truncatingIfNeeded: declared) == UInt32(truncatingIfNeeded: n)
            return (ok, ok ? "original_size \(declared) agrees with the gzip trailer"
                : "descriptor original_size \(declared) disagrees with the gzip trailer's size \(n) (mod 2^32)")
        }
        if chain.operations.contains(.zstd), let n = Zstd.frameContentSize(bytes) {
            let ok = UInt64(n) == declared
            return (ok, ok ? "original_size \(declared) agrees with the zstd frame"
                : "descriptor original_size \(declared) disagrees with the zstd frame's content size \(n)")
        }
        return nil
    }

    /// The chunk index of a chunked gzip slot against its signed digest, and every chunk against the index.
    static func chunkIndexCheck(_ bytes: ByteReader, signed: [UInt8]?) -> (Bool, String) {
        guard let signed else { return (false, "chunk_index_checksum in the signed metadata is not \"sha256:<64 hex>\"") }
        let index: ChunkedGzip.Index
        do {
            guard let i = try ChunkedGzip.index(bytes) else { return (false, "signed metadata names a chunk index, the gzip header has none") }
            index = i
        } catch { return (false, "\(error)") }
        guard let head = try? bytes.slice(0..<index.headerSize), SHA256.hash(head) == signed else {
            return (false, "chunk index (\(index.headerSize) header bytes) fails the SHA-256 in the signed metadata")
        }
        let decoder = ChunkedGzip.Decoder(maxStoredChunk: index.chunks.map { $0.length }.max() ?? 0, chunkSize: index.chunkSize)
        for (k, c) in index.chunks.enumerated() {
            let matches: Bool
            do { matches = try decoder.load(bytes, c, isLast: k == index.chunks.count - 1, verify: true) } catch { return (false, "chunk \(k): \(error)") }
            if !matches { return (false, "chunk \(k) (stored bytes at \(c.offset)) fails its SHA-256 in the chunk index") }
        }
        return (true, "\(index.chunks.count) chunks of \(index.chunkSize) bytes: the index matches the signed metadata and every chunk its SHA-256")
    }

    /// SHA-256 of a slot; large slots are hashed in 8 MiB steps, dropping the mapped pages behind
    /// us so that verifying a huge slot does not pull it all into our RSS.
    static func hashReleasing(_ pkg: PackageReader, _ bytes: ByteReader, from base: Int) -> [UInt8] {
        let step = 8 << 20
        guard bytes.count > 4 * step else { return SHA256.hash(bytes) }
        var h = SHA256()
        var off = 0
        while off < bytes.count {
            let end = min(bytes.count, off + step)
            if let piece = try? bytes.slice(off..<end) { h.update(piece) }
            pkg.file.adviseDone(base + off..<base + end)
            off = end
        }
        return h.finalize()
    }

    /// Lowercase hex SHA-256 of the raw public key (0.5.x key fingerprint).
    public static func fingerprint(_ publicKey: [UInt8]) -> String {
        hex(bytes: SHA256.hash(publicKey))
    }
}
