import ArgumentParser
import FlavorEngine
import FlavorFormat
import FlavorSys

/// Shared by extract and extract-all: verify, then decode slots into a staging directory that
/// becomes OUTDIR only when everything succeeded.
func extractSlots(package: String, select: (PackageReader, Metadata) -> [Int], outDir: String, force: Bool, global: GlobalOptions) {
    let pkg: PackageReader
    do { pkg = try PackageReader(path: package) } catch { fail(error.message, code: error.kind == .unreadable ? 2 : 1) }
    let m: Metadata
    do { m = try Verifier.verifyHeader(pkg) } catch { fail(error.message) }
    if FS.exists(outDir) {
        let entries = (try? FS.listDirectory(outDir)) ?? ["?"]
        if !entries.isEmpty {
            guard force else { fail("\(outDir) exists and is not empty (use --force to replace it)") }
        }
    }
    let staging = outDir + ".flavor-tmp-\(Process.id)"
    let slots = select(pkg, m)
    let total: (files: Int, bytes: Int)
    do throws(EngineError) {
        total = try Extractor.extractParallel(pkg, slots: slots, metadata: m, root: staging, verify: true,
                                              settings: processSettings, backend: WriteBackend.resolve(processSettings))
        try? FS.removeTree(outDir)
        do { try FS.rename(staging, outDir) } catch { throw EngineError(.io, "\(error)") }
    } catch {
        try? FS.removeTree(staging)
        fail(error.message)
    }
    if global.json {
        let rows = slots.map { i in JSONValue.object([("slot", .int(Int64(i))), ("id", .string(m.slots[i].id)), ("target", .string(m.slots[i].target))]) }
        printLine(JSONValue.object([("output", .string(outDir)), ("files", .int(Int64(total.files))), ("bytes", .int(Int64(total.bytes))),
                                    ("slots", .array(rows))]).serializedString(pretty: true))
    } else if !global.quiet {
        printLine("extracted \(slots.count) slot\(slots.count == 1 ? "" : "s") (\(total.files) files, \(total.bytes) bytes) into \(outDir)")
    }
}

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Verify a package and decode one slot into a new directory.",
        discussion: "A tar slot unpacks at OUTDIR's root (as launchers do); any other slot becomes OUTDIR/<target>. Members that would land outside OUTDIR are refused.")

    @Argument(help: "The package file.") var package: String
    @Argument(help: "Slot index or id.") var slot: String
    @Argument(help: "Output directory (must not exist or be empty).") var outDir: String
    @Flag(name: [.short, .long], help: "Replace a non-empty OUTDIR.") var force = false
    @OptionGroup var global: GlobalOptions

    func run() throws {
        extractSlots(package: package, select: { pkg, m in
            if let i = Int(slot), i >= 0, i < pkg.descriptors.count { return [i] }
            if let i = m.slots.firstIndex(where: { $0.id == slot }) { return [i] }
            fail("\(package): no slot \"\(slot)\" (there are \(pkg.descriptors.count): \(m.slots.map(\.id).joined(separator: ", ")))")
        }, outDir: outDir, force: force, global: global)
    }
}

struct ExtractAllCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract-all",
        abstract: "Verify a package and decode every slot into a new directory: the tree a launch extracts, lazy and dev slots included.",
        discussion: "The attestation slot (SBOM and provenance) is left out, as launches leave it out: `flavor inspect --sbom/--provenance` prints it and `flavor extract PKG _attestation OUTDIR` writes it.")

    @Argument(help: "The package file.") var package: String
    @Argument(help: "Output directory (must not exist or be empty).") var outDir: String
    @Flag(name: [.short, .long], help: "Replace a non-empty OUTDIR.") var force = false
    @OptionGroup var global: GlobalOptions

    func run() throws {
        extractSlots(package: package, select: { pkg, m in
            (0..<pkg.descriptors.count).filter { $0 >= m.slots.count || m.slots[$0].lifecycleValue != .attestation }
        }, outDir: outDir, force: force, global: global)
    }
}
