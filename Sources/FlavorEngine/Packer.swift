import FlavorFormat
import FlavorSys
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One slot to pack. `content` says where the bytes come from; `chain` is what the stored
/// bytes are (for a file: what the user declares; for a directory: what we encode).
public struct PackSlot: Sendable {
    /// `generated`: bytes the packer makes itself (the attestation), never a builder's slot.
    public enum Content: Sendable { case file(String), directory(String), generated }
    public var id: String
    public var source: String
    public var target: String
    public var content: Content
    public var chain: OperationChain
    public var purpose = "payload"
    public var lifecycle = "runtime"
    public var permissions: String? = nil
    public var resolution = "build"
    /// Tar bytes per shard for this directory slot (nil: `Packer.shardBytes`). Smaller shards let
    /// one slot extracted on its own (a lazy slot's ensure) use every core.
    public var shardBytes: Int? = nil

    public init(id: String, source: String, target: String, content: Content, chain: OperationChain) {
        self.id = id; self.source = source; self.target = target; self.content = content; self.chain = chain
    }
}

/// Everything needed to write one package.
public struct PackPlan: Sendable {
    public var name: String
    public var version: String
    public var description: String?
    public var launcherPath: String
    public var slots: [PackSlot] = []
    public var command: String
    public var executionEnv: [(String, JSONValue)] = []
    /// Passed through verbatim after `compatibility`: cache_validation, runtime, workenv.
    public var extraMetadata: [(String, JSONValue)] = []
    public var setupCommands: [JSONValue] = []
    public var key: Ed25519KeyPair
    public var deterministic = false
    public var sourceDateEpoch: Int64? = nil
    public var gzipLevel: Int32 = 6
    public var zstdLevel: Int32 = 3
    /// Store symlinks as symlinks (flavor-launcher handles them; upstream 0.5.4 launchers refuse
    /// symlink members, so by default links are stored as what they point at).
    public var preserveSymlinks = false
    /// `compatibility.min_glibc` ("2.34"): the launcher refuses a cold start on an older glibc.
    public var minGlibc: String? = nil
    /// The attestation slot (SBOM + provenance) appended last; nil: none (`--no-attestation`).
    public var attestation: AttestationPlan? = AttestationPlan()

    public init(name: String, version: String, launcherPath: String, command: String, key: Ed25519KeyPair) {
        self.name = name; self.version = version; self.launcherPath = launcherPath; self.command = command; self.key = key
    }
}

public struct PackResult: Sendable {
    public var path: String
    public var size: Int
    public var slots: [(id: String, stored: Int, original: Int)]
}

public enum Packer {
    public static let toolVersion = ToolVersion.current

    /// Writes the package to `output` atomically (temporary file, fsync, rename); nothing is
    /// left behind on failure.
    public static func pack(_ plan: PackPlan, to output: String, settings: Settings,
                            progress: (String) -> Void = { _ in }) throws(EngineError) -> PackResult {
        let launcher: MappedFile
        do { launcher = try MappedFile(path: plan.launcherPath) } catch {
            throw EngineError(.config, "launcher \(plan.launcherPath): \(error.reason)")
        }
        guard launcher.size > 0 else { throw EngineError(.config, "launcher \(plan.launcherPath): empty file") }

        // 1. Stored bytes of every slot (directories cut into shards), encoded in parallel.
        let t0 = MonotonicClock.now()
        func ms(since t: Double) -> String { "\(Int((MonotonicClock.now() - t) * 1000)) ms" }
        var (slots, jobs) = try expand(plan, settings: settings)
        let inputBytes = jobs.reduce(0) { $0 + $1.estimatedBytes }
        progress("listed \(plan.slots.count) slots: \(inputBytes) bytes in \(jobs.count) jobs (\(ms(since: t0)))")
        let t1 = MonotonicClock.now()
        // A big pack keeps its encoded slots in a spool beside the output, not in memory.
        var spool: Spool? = nil
        if inputBytes > settings.packSpoolBytes {
            do { spool = try Spool(siblingOf: output) } catch { throw EngineError(.io, "spool for \(output): \(error)") }
        }
        var encoded = try encodeParallel(jobs, plan: plan, settings: settings, spool: spool)
        let launcherDigest = SHA256.hash(launcher.bytes)
        var attestationDigest: [UInt8]? = nil
        if let extra = plan.attestation {
            let doc = attestationDocument(plan, slots: slots, encoded: encoded, launcherDigest: launcherDigest, extra: extra,
                                          workers: settings.workerCount)
            var s = PackSlot(id: Attestation.slotID, source: "", target: Attestation.slotID, content: .generated, chain: OperationChain([]))
            s.purpose = "data"; s.lifecycle = "attestation"; s.permissions = "0644"
            let e = EncodedSlot(stored: doc, original: doc.count, digest: SHA256.hash(doc))
            attestationDigest = e.digest
            slots.append(s); encoded.append(e)
        }
        progress("encoded \(slots.count) slots: \(encoded.reduce(0) { $0 + $1.original }) → \(encoded.reduce(0) { $0 + $1.storedSize }) bytes (\(ms(since: t1)))")
        let t2 = MonotonicClock.now()
        let sizes = encoded.map(\.storedSize)
        let originals = encoded.map(\.original)
        let digests = encoded.map(\.digest)
        let chunkIndexDigests = encoded.map(\.chunkIndexDigest)

        // 2. Layout: launcher | metadata | pad8 | table | slots (8-aligned) | trailer.
        let metadataJSON = metadataJSON(plan, slots: slots, launcher: launcher, launcherDigest: launcherDigest, sizes: sizes, digests: digests,
                                        chunkIndexDigests: chunkIndexDigests)
        let signature = Ed25519.sign(metadataJSON, with: plan.key)
        let metadataGz = Deflater(level: 9).gzip(metadataJSON)
        let metadataOffset = launcher.size
        let tableOffset = align8(metadataOffset + metadataGz.count)
        var cursor = tableOffset + 64 * slots.count
        var descriptors = [SlotDescriptor]()
        var offsets = [Int]()
        for (i, s) in slots.enumerated() {
            cursor = align8(cursor)
            offsets.append(cursor)
            var d = SlotDescriptor()
            d.id = UInt64(i)
            d.nameHash = SlotDescriptor.checksumPrefix(SHA256.hash(Array(s.id.utf8)))
            d.offset = UInt64(cursor)
            d.size = UInt64(sizes[i])
            d.originalSize = UInt64(originals[i])
            d.operations = s.chain.packed
            d.checksum = SlotDescriptor.checksumPrefix(digests[i])
            d.purpose = purposeByte(s.purpose)
            d.lifecycle = Lifecycle(manifestName: s.lifecycle).rawValue
            d.priority = 1
            d.permissions = UInt16(s.permissions.flatMap(parseOctalMode) ?? 0o600)
            descriptors.append(d)
            cursor += sizes[i]
        }
        let packageSize = cursor + Trailer.byteCount

        var index = PackageIndex()
        index.packageSize = UInt64(packageSize)
        index.launcherSize = UInt64(launcher.size)
        index.metadataOffset = UInt64(metadataOffset)
        index.metadataSize = UInt64(metadataGz.count)
        index.slotTableOffset = UInt64(tableOffset)
        index.slotTableSize = UInt64(64 * slots.count)
        index.slotCount = UInt32(slots.count)
        index.publicKey = plan.key.publicKey
        index.metadataChecksum = SHA256.hash(metadataGz)
        for (i, b) in signature.enumerated() { index.integritySignature[i] = b }
        index.attestationKeyFingerprint = Array(Verifier.fingerprint(plan.key.publicKey).utf8)
        if let policy = plan.extraMetadata.last(where: { $0.0 == "policy" })?.1 {
            index.attestationPolicyHash = Array(PackagePolicy.hash(policy).utf8)
        }
        if let d = attestationDigest { index.attestationSBOMDigest = Array(hex(bytes: d).utf8) }
        let trailer = Trailer.encode(index: index.sealed())

        // 3. Write through a temporary name.
        let tmp = output + ".tmp-\(Process.id)"
        do {
            let fd = try FS.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o755)
            var open = true, ok = false
            defer {
                if open { FS.close(fd) }
                if !ok { _ = Glibc.unlink(tmp) }
            }
            try FS.writeAll(fd, launcher.bytes, path: tmp)
            var pos = launcher.size
            func pad(to target: Int) throws(SysError) {
                if target > pos { try FS.writeAll(fd, [UInt8](repeating: 0, count: target - pos), path: tmp); pos = target }
            }
            try FS.writeAll(fd, metadataGz, path: tmp); pos += metadataGz.count
            try pad(to: tableOffset)
            var table = [UInt8](); table.reserveCapacity(64 * descriptors.count)
            for d in descriptors { table += d.encoded() }
            try FS.writeAll(fd, table, path: tmp); pos += table.count
            for (i, e) in encoded.enumerated() {
                try pad(to: offsets[i])
                if let at = e.spooledAt, let spool {
                    try spool.copy(at, count: e.storedSize, to: fd, path: tmp)
                } else {
                    for piece in e.segments { try FS.writeAll(fd, piece, path: tmp) }
                }
                pos += sizes[i]
            }
            try FS.writeAll(fd, trailer, path: tmp); pos += trailer.count
            precondition(pos == packageSize, "layout arithmetic")
            // Every result counts: a package whose last bytes never reached the disk must not
            // replace a good one (NFS reports a failed write-back only at fsync or close).
            try FS.fchmod(fd, 0o755, path: tmp)
            try FS.fsync(fd, path: tmp)
            open = false
            try FS.closeChecked(fd, path: tmp)
            try FS.rename(tmp, output)
            ok = true
        } catch {
            throw EngineError(.io, "writing \(output): \(error)")
        }
        progress("wrote \(output): \(packageSize) bytes (\(ms(since: t2)); \(ms(since: t0)) in all)")
        return PackResult(path: output, size: packageSize,
                          slots: slots.enumerated().map { ($1.id, sizes[$0], originals[$0]) })
    }

    static func align8(_ n: Int) -> Int { (n + 7) & ~7 }

    /// The attestation of what was encoded: shards of one slot are reported as that slot.
    static func attestationDocument(_ plan: PackPlan, slots: [PackSlot], encoded: [EncodedSlot], launcherDigest: [UInt8],
                                    extra: AttestationPlan, workers: Int) -> [UInt8] {
        var records = [Attestation.SlotRecord]()
        for (i, s) in slots.enumerated() {
            var files = encoded[i].contentFiles
            if case .file = s.content { files = [ContentFile(path: SlotMetadata.relative(s.target), digest: encoded[i].digest)] }
            records.append(Attestation.SlotRecord(id: s.id, target: s.target, operations: s.chain.manifestName, lifecycle: s.lifecycle,
                                                  storedSize: encoded[i].storedSize, storedDigest: encoded[i].digest, files: files))
        }
        let name = String(plan.launcherPath.split(separator: "/").last ?? "launcher")
        return Attestation.document(plan: plan, slots: records, launcherDigest: launcherDigest, launcherName: name,
                                    epoch: plan.sourceDateEpoch ?? Int64(time(nil)), extra: extra, workers: workers)
    }

    static func metadataJSON(_ plan: PackPlan, slots planned: [PackSlot], launcher: MappedFile, launcherDigest: [UInt8], sizes: [Int],
                             digests: [[UInt8]], chunkIndexDigests: [[UInt8]?]) -> [UInt8] {
        var slots = [JSONValue]()
        for (i, s) in planned.enumerated() {
            var o: [(String, JSONValue)] = [
                ("slot", .int(Int64(i))), ("id", .string(s.id)), ("source", .string(s.source)),
                ("target", .string(s.target)), ("size", .int(Int64(sizes[i]))),
                ("checksum", .string("sha256:" + hex(bytes: digests[i]))),
                ("operations", .string(s.chain.manifestName)), ("purpose", .string(s.purpose)),
                ("lifecycle", .string(s.lifecycle)),
            ]
            o.append(("permissions", s.permissions.map { .string($0) } ?? .string("0600")))
            o.append(("resolution", .string(s.resolution)))
            if let c = chunkIndexDigests[i] { o.append((SlotMetadata.chunkIndexKey, .string("sha256:" + hex(bytes: c)))) }
            slots.append(.object(o))
        }
        var package: [(String, JSONValue)] = [("name", .string(plan.name)), ("version", .string(plan.version))]
        if let d = plan.description { package.append(("description", .string(d))) }
        let epoch = plan.sourceDateEpoch ?? Int64(time(nil))
        let platform: [(String, JSONValue)] = [
            ("os", .string("linux")), ("arch", .string("x86_64")),
            ("host", .string(plan.sourceDateEpoch != nil ? "linux/x86_64" : "linux/x86_64 \(hostName())")),
        ]
        var top: [(String, JSONValue)] = [
            ("format", .string("PSPF/2025")),
            ("format_version", .string("1.0.0")),
            ("package", .object(package)),
            ("slots", .array(slots)),
            ("execution", .object([("command", .string(plan.command)), ("env", .object(plan.executionEnv))])),
            ("verification", .object([
                ("integrity_seal", .object([("required", .bool(true)), ("algorithm", .string("ed25519"))])),
                ("signed", .bool(true)), ("require_verification", .bool(true)),
            ])),
            ("build", .object([
                ("tool", .string("flavor-swift")), ("tool_version", .string(toolVersion)),
                ("timestamp", .string(rfc3339(epoch))), ("deterministic", .bool(plan.deterministic)),
                ("platform", .object(platform)),
            ])),
            ("launcher", .object([
                ("tool", .string(String(plan.launcherPath.split(separator: "/").last ?? "launcher"))),
                ("tool_version", .string(toolVersion)), ("size", .int(Int64(launcher.size))),
                ("checksum", .string("sha256:" + hex(bytes: launcherDigest))),
                ("capabilities", .array([.string("mmap"), .string("signed")])),
            ])),
            ("compatibility", .object([("min_format_version", .string("1.0.0")), ("features", .array([]))]
                                      + (plan.minGlibc.map { [("min_glibc", JSONValue.string($0))] } ?? []))),
        ]
        top += plan.extraMetadata
        top.append(("setup_commands", .array(plan.setupCommands)))
        return JSONValue.object(top).serialized(pretty: true)
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, 255) == 0 else { return "localhost" }
        return cStringToString(buf)
    }

    /// RFC 3339 UTC timestamp with "+00:00", like the Rust builder.
    public static func rfc3339(_ epoch: Int64) -> String {
        let days = epoch >= 0 ? epoch / 86400 : (epoch - 86399) / 86400
        let secs = epoch - days * 86400
        // Howard Hinnant's civil_from_days.
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func p2(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(p2(m))-\(p2(d))T\(p2(secs / 3600)):\(p2(secs / 60 % 60)):\(p2(secs % 60))+00:00"
    }
}

/// Deterministic listing of a directory tree for tar framing: entries sorted by name, uid/gid 0,
/// fixed mtime when SOURCE_DATE_EPOCH is given, member paths under `prefix`.
public enum TarBuilder {
    static func collect(directory: String, prefix: String, mtime: Int64?, preserveSymlinks: Bool, slot: String,
                        workers: Int) throws(EngineError) -> [TarItem] {
        guard FS.isDirectory(directory) else { throw EngineError(.config, "slot \"\(slot)\": source \(directory) is not a directory") }
        var items = [TarItem]()
        if !prefix.isEmpty {
            // Parents of the prefix, so that their modes are explicit on extraction.
            var acc = ""
            for c in prefix.split(separator: "/") {
                acc = acc.isEmpty ? String(c) : acc + "/" + c
                items.append(TarItem(member: acc, kind: .directory, source: "", size: 0, mode: 0o755, mtime: mtime ?? 0, linkTarget: ""))
            }
        }
        // Top-level entries are walked in parallel (listing is mostly lstat calls) and joined
        // in name order, so the result does not depend on the number of cores.
        let top: [FS.Entry]
        do { top = try FS.listDirectoryWithStatus(directory) } catch { throw EngineError(.config, "slot \"\(slot)\": \(error)") }
        let parts = Mutex([[TarItem]](repeating: [], count: top.count))
        let sink = ErrorSink()
        WorkerPool.parallelFor(jobs: top.count, workers: workers) { k, _ in
            if sink.failed { return }
            var out = [TarItem]()
            do throws(EngineError) {
                try entry(directory, rel: top[k].name, status: top[k].status, prefix: prefix, mtime: mtime,
                          preserveSymlinks: preserveSymlinks, into: &out, slot: slot)
                parts.withLock { $0[k] = out }
            } catch {
                sink.add(error)
            }
        }
        if let e = sink.first { throw e }
        for p in parts.withLock({ $0 }) { items += p }
        return items
    }

    static func walk(_ base: String, rel: String, prefix: String, mtime: Int64?, preserveSymlinks: Bool,
                     into out: inout [TarItem], slot: String, depth: Int = 0) throws(EngineError) {
        let dir = rel.isEmpty ? base : base + "/" + rel
        let entries: [FS.Entry]
        do { entries = try FS.listDirectoryWithStatus(dir) } catch { throw EngineError(.config, "slot \"\(slot)\": \(error)") }
        for e in entries {
            try entry(base, rel: rel.isEmpty ? e.name : rel + "/" + e.name, status: e.status, prefix: prefix, mtime: mtime,
                      preserveSymlinks: preserveSymlinks, into: &out, slot: slot, depth: depth)
        }
    }

    /// One entry at `rel` under `base`, with its lstat result from the listing (and, for a
    /// directory, everything below it).
    static func entry(_ base: String, rel r: String, status: FS.Status, prefix: String, mtime: Int64?, preserveSymlinks: Bool,
                      into out: inout [TarItem], slot: String, depth: Int = 0) throws(EngineError) {
        let full = base + "/" + r
        let member = prefix.isEmpty ? r : prefix + "/" + r
        var st = status
        let viaLink = st.isSymlink
        if viaLink {
            if preserveSymlinks {
                let target: String
                do { target = try FS.readLink(full) } catch { throw EngineError(.config, "slot \"\(slot)\": \(error)") }
                out.append(TarItem(member: member, kind: .symlink, source: "", size: 0, mode: 0o777, mtime: mtime ?? st.mtime, linkTarget: target))
                return
            }
            // Upstream 0.5.4 launchers refuse symlink members, so by default a link is stored
            // as what it points at (a file's bytes, or a directory's tree).
            do { st = try FS.statFollowing(full) } catch {
                throw EngineError(.config, "slot \"\(slot)\": \(full) is a dangling symlink")
            }
            guard depth < 32 else { throw EngineError(.config, "slot \"\(slot)\": \(full): too many nested symlinked directories (a cycle?)") }
        }
        let t = mtime ?? st.mtime
        if st.isDirectory {
            out.append(TarItem(member: member, kind: .directory, source: "", size: 0, mode: st.permissions, mtime: t, linkTarget: ""))
            try walk(base, rel: r, prefix: prefix, mtime: mtime, preserveSymlinks: preserveSymlinks, into: &out, slot: slot,
                     depth: depth + (viaLink ? 1 : 0))
        } else if st.isRegular {
            out.append(TarItem(member: member, kind: .file, source: full, size: st.size, mode: st.permissions, mtime: t, linkTarget: ""))
        } else {
            throw EngineError(.config, "slot \"\(slot)\": \(full) is not a regular file, directory or symlink")
        }
    }
}
