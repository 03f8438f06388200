import ArgumentParser
import FlavorEngine
import FlavorFormat
import FlavorSys

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a package's header, launcher, slots and command without verifying slot bytes.",
        discussion: "The --json form is stable; docs/CLI.md lists its keys.")

    @Argument(help: "The package file.") var package: String
    @Flag(help: "Print the CycloneDX 1.6 SBOM from the attestation slot.") var sbom = false
    @Flag(help: "Print the build provenance from the attestation slot.") var provenance = false
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let pkg: PackageReader
        do { pkg = try PackageReader(path: package) } catch { fail(error.message, code: error.kind == .unreadable ? 2 : 1) }
        if sbom || provenance { printAttestation(pkg) }
        let json: [UInt8], m: Metadata
        do { json = try pkg.metadataJSONBytes(); m = try pkg.metadata(jsonBytes: json) } catch { fail(error.message) }
        let idx = pkg.index
        let fp = Verifier.fingerprint(idx.publicKey)
        var slotRows = [JSONValue]()
        var lines = [String]()
        lines.append("package   \(m.packageName) \(m.packageVersion)  (\(pkg.file.size) bytes, built by \(m.buildTool.isEmpty ? "?" : m.buildTool))")
        lines.append("launcher  \(idx.launcherSize) bytes")
        lines.append("metadata  offset \(idx.metadataOffset), \(idx.metadataSize) bytes gzip, \(json.count) bytes JSON")
        lines.append("key       \(fp)")
        lines.append("command   \(m.command)")
        lines.append("slots     \(pkg.descriptors.count)")
        // When a launch extracts each slot: at the first launch, or when the app first needs it.
        func extraction(_ i: Int) -> String {
            guard i < m.slots.count else { return "?" }
            switch m.slots[i].lifecycleValue {
            case .lazy: return "lazy"
            case .dev: return "dev"
            case .attestation: return "never"
            default: return "eager"
            }
        }
        var totals = [String: (Int, UInt64, UInt64)]()
        for (i, d) in pkg.descriptors.enumerated() {
            let t = totals[extraction(i)] ?? (0, 0, 0)
            // Wrapping: a damaged table's sizes may be anything (the problems list says so below).
            totals[extraction(i)] = (t.0 + 1, t.1 &+ d.size, t.2 &+ d.originalSize)
        }
        if let lazy = totals["lazy"], let eager = totals["eager"] {
            lines.append("          eager: \(eager.0) slots, \(eager.1) B stored / \(eager.2) B; lazy: \(lazy.0) slots, \(lazy.1) B stored / \(lazy.2) B (extracted when first needed)")
        }
        for (i, d) in pkg.descriptors.enumerated() {
            let sm = i < m.slots.count ? m.slots[i] : nil
            let ops = (try? OperationChain(packed: d.operations).manifestName) ?? "0x\(hex(d.operations))"
            let ratio = d.originalSize > 0 ? Double(d.size) / Double(d.originalSize) : 1
            let lifecycle = Lifecycle(rawValue: d.lifecycle)?.name ?? "\(d.lifecycle)"
            // A chunked gzip member (one big file, decoded on every core): how it is cut.
            let chunks = (try? pkg.slotBytes(i)).flatMap { try? ChunkedGzip.index($0) }
            var row: [(String, JSONValue)] = [
                ("index", .int(Int64(i))), ("id", .string(sm?.id ?? "")), ("target", .string(sm?.target ?? "")),
                ("offset", u64(d.offset)), ("size", u64(d.size)), ("original_size", u64(d.originalSize)),
                ("ratio", .double((ratio * 1000).rounded() / 1000)), ("operations", .string(ops)),
                ("lifecycle", .string(lifecycle)), ("extraction", .string(extraction(i))), ("permissions", .string("0" + String(d.permissions, radix: 8))),
                ("checksum", .string(sm?.checksum ?? "")), ("descriptor_checksum", .string(hex(d.checksum, width: 16))),
            ]
            if let c = chunks { row.append(("chunks", .object([("count", .int(Int64(c.chunks.count))), ("chunk_size", .int(Int64(c.chunkSize)))]))) }
            slotRows.append(.object(row))
            let pct = Int((ratio * 100).rounded())
            lines.append("  [\(i)] \(sm?.id ?? "?")  → \(sm?.target ?? "?")  \(d.size) B stored / \(d.originalSize) B (\(pct)%)  ops=\(ops)  \(lifecycle) (\(extraction(i)))  0\(String(d.permissions, radix: 8))")
            lines.append("      \(sm?.checksum ?? "")")
            if let c = chunks { lines.append("      chunked gzip: \(c.chunks.count) chunks of \(c.chunkSize) bytes, decoded on every core") }
        }
        // The view is shown even for a damaged package (that is when one looks), but a structure
        // that no reader would accept makes the exit status say so.
        var problems = [String]()
        if idx.packageSize != UInt64(pkg.file.size) { problems.append("the index says \(idx.packageSize) bytes, the file has \(pkg.file.size)") }
        for (i, d) in pkg.descriptors.enumerated() {
            let (end, overflow) = d.offset.addingReportingOverflow(d.size)
            if overflow || end > UInt64(pkg.file.size) { problems.append("slot \(i) (offset \(d.offset), \(d.size) bytes) lies outside the file"); continue }
            if let bytes = try? pkg.slotBytes(i), let (ok, detail) = Verifier.originalSizeCheck(d, bytes), !ok { problems.append("slot \(i): \(detail)") }
        }
        if m.slotCount != pkg.descriptors.count { problems.append("metadata lists \(m.slotCount) slots, the slot table has \(pkg.descriptors.count)") }
        defer { if !problems.isEmpty { fail("\(package): " + problems.joined(separator: "; ") + " (flavor verify checks everything)") } }
        if global.json {
            printLine(JSONValue.object([
                ("problems", .array(problems.map { .string($0) })),
                ("package", .object([("path", .string(package)), ("name", .string(m.packageName)),
                                     ("version", .string(m.packageVersion)), ("size", .int(Int64(pkg.file.size))),
                                     ("format_version", .string("0x" + hex(UInt64(idx.formatVersion), width: 8))),
                                     ("index_checksum", .string(hex(UInt64(idx.indexChecksum), width: 8))),
                                     ("build_tool", .string(m.buildTool))])),
                ("launcher", .object([("size", u64(idx.launcherSize))])),
                ("metadata", .object([("offset", u64(idx.metadataOffset)), ("size", u64(idx.metadataSize)),
                                      ("json_size", .int(Int64(json.count)))])),
                ("key_fingerprint", .string(fp)),
                ("attestation", Attestation.slotIndex(pkg).map { i in .object([
                    ("slot", .int(Int64(i))),
                    ("sbom_digest", idx.attestationSBOMDigest.contains { $0 != 0 } ? .string(String(decoding: idx.attestationSBOMDigest.prefix { $0 != 0 }, as: UTF8.self)) : .null),
                ]) } ?? .null),
                ("command", .string(m.command)),
                ("slots", .array(slotRows)),
            ]).serializedString(pretty: true))
        } else {
            printLine(lines.joined(separator: "\n"))
        }
    }
}

extension InspectCommand {
    /// `--sbom` / `--provenance`: the documents as upstream's inspect prints them (2-space JSON), after
    /// checking them against the index's attestation_sbom_digest when it has one. Exit 1 without them.
    func printAttestation(_ pkg: PackageReader) -> Never {
        let stored = pkg.index.attestationSBOMDigest
        if stored.contains(where: { $0 != 0 }), let i = Attestation.slotIndex(pkg), let b = try? pkg.slotBytes(i),
           bytes(fromHex: String(decoding: stored.prefix { $0 != 0 }, as: UTF8.self)) != SHA256.hash(b) {
            fail("\(package): the attestation slot does not match attestation_sbom_digest in the index (modified after signing)")
        }
        let doc: JSONValue
        do { doc = try Attestation.read(pkg) } catch { fail(error.message) }
        for (wanted, key) in [(sbom, "sbom"), (provenance, "provenance")] where wanted {
            guard let part = doc[key] else { fail("\(package): the attestation has no \(key)") }
            printLine(part.serializedString(pretty: true))
        }
        Process.exit(0)
    }
}

/// A stored 64-bit field as JSON: exact when it fits Int64, else as a double (a hostile descriptor's
/// size, shown rather than trapped on).
private func u64(_ v: UInt64) -> JSONValue { Int64(exactly: v).map { .int($0) } ?? .double(Double(v)) }
