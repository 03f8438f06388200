import ArgumentParser
import FlavorEngine
import FlavorFormat
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

struct WorkenvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workenv",
        abstract: "List, inspect and remove extracted workenvs in the cache.",
        discussion: "The cache root is the launchers': FLAVOR_CACHE_DIR, else $XDG_CACHE_HOME/flavor, else ~/.cache/flavor.",
        subcommands: [List.self, Info.self, Remove.self, Clean.self])

    struct Entry {
        var name: String
        var path: String
        var complete: Bool
        var checksum: String
        var bytes: Int
        var files: Int
        var lastUsed: Int64
        /// The package's lazy slots (from the metadata kept beside the workenv), and whether each is in place.
        var lazy: [(index: Int, id: String, bytes: Int, present: Bool)] = []
    }

    static func root() -> String { processSettings.cacheRoot + "/workenv" }

    static func entries() -> [Entry] {
        let root = root()
        let names = (try? FS.listDirectory(root)) ?? []
        return names.filter { !$0.hasPrefix(".") && FS.isDirectory(root + "/" + $0) }.map { entry(root, $0) }
    }

    static func entry(_ root: String, _ name: String) -> Entry {
        let p = WorkenvPaths(cacheRoot: processSettings.cacheRoot, packageFileName: name)
        var bytes = 0, files = 0
        func walk(_ d: String) {
            for n in (try? FS.listDirectory(d)) ?? [] {
                guard let st = try? FS.lstat(d + "/" + n) else { continue }
                if st.isDirectory { walk(d + "/" + n) } else { files += 1; bytes += st.size }
            }
        }
        walk(p.workenv)
        let checksum = (try? FS.readFile(p.checksumFile, limit: 64)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let used = (try? FS.lstat(p.completeMarker).mtime) ?? ((try? FS.lstat(p.workenv).mtime) ?? 0)
        var e = Entry(name: name, path: p.workenv, complete: FS.exists(p.completeMarker), checksum: checksum,
                      bytes: bytes, files: files, lastUsed: used)
        if let json = try? FS.readFile(p.metadataJSON, limit: 64 << 20), let m = try? Metadata(jsonBytes: json) {
            // A slot cut into shards at pack time (`<id>.partN`) is shown once, with all its parts.
            var seen = Set<Int>()
            for (i, slot) in m.slots.enumerated() where slot.lifecycleValue == .lazy && !seen.contains(i) {
                let group = Workenv.shardGroup(m, i)
                seen.formUnion(group)
                e.lazy.append((i, slot.id, group.reduce(0) { $0 + Int(m.slots[$1].size) }, group.allSatisfy { FS.exists(p.slotMarker($0)) }))
            }
        }
        return e
    }

    static func json(_ e: Entry) -> JSONValue {
        .object([("name", .string(e.name)), ("path", .string(e.path)), ("complete", .bool(e.complete)),
                 ("index_checksum", .string(e.checksum)), ("files", .int(Int64(e.files))), ("bytes", .int(Int64(e.bytes))),
                 ("last_extracted", .int(e.lastUsed)),
                 ("lazy_slots", .array(e.lazy.map { l in
                     .object([("slot", .int(Int64(l.index))), ("id", .string(l.id)), ("size", .int(Int64(l.bytes))), ("present", .bool(l.present))])
                 }))])
    }

    static func remove(_ name: String) throws {
        let p = WorkenvPaths(cacheRoot: processSettings.cacheRoot, packageFileName: name)
        guard FS.isDirectory(p.workenv) || FS.isDirectory(p.metaDir) else { fail("no workenv named \"\(name)\" under \(root())") }
        // Hold the extraction lock so we never delete under a running extraction.
        try? FS.mkdirs(p.extractDir, 0o700)
        let lock = try? FileLock(path: p.lockFile)
        do {
            try FS.removeTree(p.workenv)
            try FS.removeTree(p.metaDir)
        } catch { fail("\(error)") }
        withExtendedLifetime(lock) {}
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List workenvs with size and state.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let es = WorkenvCommand.entries()
            if global.json { printLine(JSONValue.array(es.map(WorkenvCommand.json)).serializedString(pretty: true)); return }
            if es.isEmpty { printLine("no workenvs under \(WorkenvCommand.root())"); return }
            for e in es {
                printLine("\(e.name)\t\(e.complete ? "complete" : "INCOMPLETE")\t\(e.files) files\t\(e.bytes / 1024) KiB\t\(e.path)")
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one workenv.")
        @Argument(help: "Workenv name (the package file name without .psp).") var name: String
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let root = WorkenvCommand.root()
            guard FS.isDirectory(root + "/" + name) else { fail("no workenv named \"\(name)\" under \(root)") }
            let e = WorkenvCommand.entry(root, name)
            if global.json { printLine(WorkenvCommand.json(e).serializedString(pretty: true)); return }
            printLine("name      \(e.name)\npath      \(e.path)\nstate     \(e.complete ? "complete" : "incomplete (will be re-extracted)")\nchecksum  \(e.checksum)\nfiles     \(e.files)\nbytes     \(e.bytes)")
            if !e.lazy.isEmpty {
                let present = e.lazy.filter(\.present)
                printLine("lazy      \(present.count) of \(e.lazy.count) slots present (the rest are extracted when the app first needs them)")
                for l in e.lazy { printLine("  [\(l.index)] \(l.id)  \(l.bytes) B stored  \(l.present ? "present" : "absent")") }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete one workenv (the next launch re-extracts it).")
        @Argument(help: "Workenv name.") var name: String
        @OptionGroup var global: GlobalOptions
        func run() throws {
            try WorkenvCommand.remove(name)
            if !global.quiet { printLine("removed \(name)") }
        }
    }

    struct Clean: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete all workenvs, or those not extracted for N days.")
        @Option(help: "Only workenvs last extracted more than this many days ago.") var olderThan: Int?
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let now = Int64(time(nil))
            var removed = [String]()
            for e in WorkenvCommand.entries() {
                if let d = olderThan, now - e.lastUsed < Int64(d) * 86400 { continue }
                try WorkenvCommand.remove(e.name)
                removed.append(e.name)
            }
            if global.json { printLine(JSONValue.array(removed.map { .string($0) }).serializedString(pretty: true)) }
            else if !global.quiet { printLine(removed.isEmpty ? "nothing to clean" : "removed \(removed.joined(separator: ", "))") }
        }
    }
}
