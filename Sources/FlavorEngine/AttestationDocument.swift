import FlavorFormat
import FlavorSys
import Synchronization

// The packer's half of the attestation (not in the launcher, which only reads it).

/// What a builder adds to the attestation beyond what the packer knows itself (slots, launcher,
/// key, time): the components it installed and the provenance of its input.
public struct AttestationPlan: Sendable {
    /// CycloneDX 1.6 components: Python distributions, the interpreter, bundled libraries.
    public var components: [JSONValue] = []
    /// Members added to the provenance record (`source`, `python`).
    public var provenance: [(String, JSONValue)] = []
    public init() {}
}

/// One file of a slot's content: its path in the workenv and the SHA-256 of its bytes.
public struct ContentFile: Sendable {
    public var path: String
    public var digest: [UInt8]
    public init(path: String, digest: [UInt8]) { self.path = path; self.digest = digest }
}

extension Attestation {
    /// One slot's share of the document: id, stored digest, and its content listing.
    public struct SlotRecord: Sendable {
        public var id: String
        public var target: String
        public var operations: String
        public var lifecycle: String
        public var storedSize: Int
        public var storedDigest: [UInt8]
        public var files: [ContentFile]
    }

    /// `sha256sum`-style lines, `<hex>  <path>\n` sorted by path, hashed: what
    /// `find . -type f | sort | xargs sha256sum | sha256sum` gives in the extracted tree.
    public static func listingDigest(_ files: [ContentFile]) -> [UInt8] {
        // Each path's bytes once, an index sort, and the lines hashed through one buffer: a 20,000-file
        // slot made ~600k temporary arrays sorting by `Array(path.utf8)` per comparison.
        let paths = files.map { Array($0.path.utf8) }
        let order = paths.indices.sorted { paths[$0].lexicographicallyPrecedes(paths[$1]) }
        var h = SHA256()
        var line = [UInt8]()
        line.reserveCapacity(1 << 16)
        for i in order {
            appendHex(files[i].digest, to: &line)
            line.append(0x20); line.append(0x20)
            line += paths[i]
            line.append(0x0A)
            if line.count >= 60 << 10 { h.update(line); line.removeAll(keepingCapacity: true) }
        }
        h.update(line)
        return h.finalize()
    }

    /// The listing digests of each slot's files and of all of them (the last), computed side by
    /// side: for a tree of 20,000 files each is a sort and a pass of SHA-256 over ~1.5 MB, and at
    /// the end of a pack nothing else is left to run beside them.
    static func listingDigests(_ slots: [SlotRecord], allFiles: [ContentFile], workers: Int) -> [[UInt8]] {
        let results = Mutex([[UInt8]](repeating: [], count: slots.count + 1))
        // Largest first, so that the two big ones of a one-tree package start together.
        let sizes = slots.map(\.files.count) + [allFiles.count]
        let order = sizes.indices.sorted { sizes[$0] > sizes[$1] }
        WorkerPool.parallelFor(jobs: order.count, workers: workers) { n, _ in
            let i = order[n]
            let files = i < slots.count ? slots[i].files : allFiles
            guard !files.isEmpty else { return }
            let digest = listingDigest(files)
            results.withLock { $0[i] = digest }
        }
        return results.withLock { $0 }
    }

    public static func document(plan: PackPlan, slots: [SlotRecord], launcherDigest: [UInt8], launcherName: String,
                                epoch: Int64, extra: AttestationPlan, workers: Int = 1) -> [UInt8] {
        let timestamp = Packer.rfc3339(epoch)
        let version = Packer.toolVersion
        func sha(_ d: [UInt8]) -> JSONValue { .array([.object([("alg", .string("SHA-256")), ("content", .string(hex(bytes: d)))])]) }
        func prop(_ n: String, _ v: String) -> JSONValue { .object([("name", .string(n)), ("value", .string(v))]) }

        let allFiles = slots.flatMap(\.files)
        let listings = listingDigests(slots, allFiles: allFiles, workers: workers)
        var components = [JSONValue]()
        for (i, s) in slots.enumerated() {
            var props = [prop("flavor:target", s.target), prop("flavor:operations", s.operations),
                         prop("flavor:lifecycle", s.lifecycle), prop("flavor:stored_size", String(s.storedSize))]
            if !s.files.isEmpty {
                props.append(prop("flavor:content_files", String(s.files.count)))
                props.append(prop("flavor:content_sha256", hex(bytes: listings[i])))
            }
            components.append(.object([
                ("type", .string("file")), ("bom-ref", .string("slot:" + s.id)), ("name", .string(s.id)),
                ("description", .string("PSPF slot (stored bytes)")), ("hashes", sha(s.storedDigest)), ("properties", .array(props)),
            ]))
        }
        components.append(.object([
            ("type", .string("application")), ("bom-ref", .string("launcher")), ("name", .string(launcherName)),
            ("version", .string(version)), ("description", .string("PSPF launcher binary (swift)")), ("hashes", sha(launcherDigest)),
        ]))
        components += extra.components

        var sbom: [(String, JSONValue)] = [
            ("bomFormat", .string("CycloneDX")), ("specVersion", .string(specVersion)), ("version", .int(1)),
            ("metadata", .object([
                ("timestamp", .string(timestamp)),
                ("tools", .object([("components", .array([.object([
                    ("type", .string("application")), ("name", .string("flavor")), ("version", .string(version)),
                    ("description", .string("Flavor (Swift) PSPF builder")),
                ])]))])),
                ("component", .object([
                    ("type", .string("application")), ("bom-ref", .string("package")), ("name", .string(plan.name)),
                    ("version", .string(plan.version)),
                ] + (plan.description.map { [("description", JSONValue.string($0))] } ?? []))),
            ])),
            ("components", .array(components)),
        ]
        // The serial number names this content: the same build gives the same document.
        let unnumbered = JSONValue.object(sbom).sortedKeys().serialized(pretty: false)
        sbom.insert(("serialNumber", .string(uuid(SHA256.hash(unnumbered)))), at: 2)

        let fp = Verifier.fingerprint(plan.key.publicKey)
        var provenance: [(String, JSONValue)] = [
            ("builder", .string("flavor-swift")), ("builder_version", .string(version)),
            ("build_timestamp", .string(timestamp)), ("source_date_epoch", .int(epoch)),
            ("reproducible", .bool(plan.sourceDateEpoch != nil)),
            ("platform", .object([("os", .string("linux")), ("arch", .string("amd64"))])),
            ("launcher", .object([("language", .string("swift")), ("version", .string(version)),
                                  ("hash", .string("sha256:" + hex(bytes: launcherDigest)))])),
            ("signing_attestation_key_fp", .string("sha256:" + fp)),
            ("content", .object([("files", .int(Int64(allFiles.count))),
                                 ("tree_digest", .string("sha256:" + hex(bytes: listings[slots.count])))])),
        ]
        provenance += extra.provenance
        return JSONValue.object([("provenance", .object(provenance)), ("sbom", .object(sbom))]).sortedKeys().serialized(pretty: false)
    }

    /// An RFC 9562 name-based (version 5 layout) UUID from a digest, as CycloneDX's serialNumber pattern wants.
    static func uuid(_ d: [UInt8]) -> String {
        var b = Array(d.prefix(16))
        b[6] = (b[6] & 0x0F) | 0x50
        b[8] = (b[8] & 0x3F) | 0x80
        let h = hex(bytes: b)
        let u = Array(h.utf8)
        func part(_ r: Range<Int>) -> String { String(decoding: u[r], as: UTF8.self) }
        return "urn:uuid:\(part(0..<8))-\(part(8..<12))-\(part(12..<16))-\(part(16..<20))-\(part(20..<32))"
    }

}
