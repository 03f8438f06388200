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
        subcommands: [List.self, Info.self, Inspect.self, Remove.self, Clean.self])

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

    /// Every name with a workenv or only its hidden metadata dir (what a killed first launch leaves).
    static func cachedNames() -> [String] {
        let root = root()
        var names = [String]()
        for n in (try? FS.listDirectory(root)) ?? [] where FS.isDirectory(root + "/" + n) {
            if !n.hasPrefix(".") { names.append(n) }
            else if n.hasSuffix(".pspf"), n.count > 6 {
                let base = String(n.dropFirst().dropLast(5))
                if !FS.isDirectory(root + "/" + base) { names.append(base) }
            }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Regular files (and links) below `path` and their apparent bytes; symlinks are not followed.
    static func treeSize(_ path: String) -> (files: Int, bytes: Int) {
        var bytes = 0, files = 0
        func walk(_ d: String) {
            for e in (try? FS.listDirectoryWithStatus(d)) ?? [] {
                if e.status.isDirectory { walk(d + "/" + e.name) } else { files += 1; bytes += e.status.size }
            }
        }
        walk(path)
        return (files, bytes)
    }

    /// The metadata the launcher kept beside the workenv (nil before a complete extraction).
    static func metadata(_ p: WorkenvPaths) -> Metadata? {
        guard let json = try? FS.readFile(p.metadataJSON, limit: 64 << 20) else { return nil }
        return try? Metadata(jsonBytes: json)
    }

    /// The workenv called `name`, or exit 1 naming the cache dir.
    static func named(_ name: String) -> Entry {
        let p = WorkenvPaths(cacheRoot: processSettings.cacheRoot, packageFileName: name)
        guard FS.isDirectory(p.workenv) else { fail("no workenv named \"\(name)\" under \(root())") }
        return entry(root(), p.name)
    }

    static func entry(_ root: String, _ name: String) -> Entry {
        let p = WorkenvPaths(cacheRoot: processSettings.cacheRoot, packageFileName: name)
        let (files, bytes) = treeSize(p.workenv)
        let checksum = (try? FS.readFile(p.checksumFile, limit: 64)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let used = (try? FS.lstat(p.completeMarker).mtime) ?? ((try? FS.lstat(p.workenv).mtime) ?? 0)
        var e = Entry(name: name, path: p.workenv, complete: FS.exists(p.completeMarker), checksum: checksum,
                      bytes: bytes, files: files, lastUsed: used)
        if let m = metadata(p) {
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

    static func json(_ e: Entry) -> JSONValue { .object(fields(e)) }

    static func fields(_ e: Entry) -> [(String, JSONValue)] {
        [("name", .string(e.name)), ("path", .string(e.path)), ("complete", .bool(e.complete)),
                 ("index_checksum", .string(e.checksum)), ("files", .int(Int64(e.files))), ("bytes", .int(Int64(e.bytes))),
                 ("last_extracted", .int(e.lastUsed)),
                 ("lazy_slots", .array(e.lazy.map { l in
                     .object([("slot", .int(Int64(l.index))), ("id", .string(l.id)), ("size", .int(Int64(l.bytes))), ("present", .bool(l.present))])
                 }))]
    }

    static func exists(_ name: String) -> Bool {
        let p = WorkenvPaths(cacheRoot: processSettings.cacheRoot, packageFileName: name)
        return FS.isDirectory(p.workenv) || FS.isDirectory(p.metaDir)
    }

    static func remove(_ name: String) throws {
        let p = WorkenvPaths(cacheRoot: processSettings.cacheRoot, packageFileName: name)
        guard exists(name) else { fail("no workenv named \"\(name)\" under \(root())") }
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
        static let configuration = CommandConfiguration(abstract: "Show one workenv; without a name, the cache: where it is, how many workenvs, their size.")
        @Argument(help: "Workenv name (the package file name without .psp).") var name: String?
        @OptionGroup var global: GlobalOptions
        func run() throws {
            guard let name else { return cacheInfo() }
            let e = WorkenvCommand.named(name)
            if global.json { printLine(WorkenvCommand.json(e).serializedString(pretty: true)); return }
            printLine("name      \(e.name)\npath      \(e.path)\nstate     \(e.complete ? "complete" : "incomplete (will be re-extracted)")\nchecksum  \(e.checksum)\nfiles     \(e.files)\nbytes     \(e.bytes)")
            if !e.lazy.isEmpty {
                let present = e.lazy.filter(\.present)
                printLine("lazy      \(present.count) of \(e.lazy.count) slots present (the rest are extracted when the app first needs them)")
                for l in e.lazy { printLine("  [\(l.index)] \(l.id)  \(l.bytes) B stored  \(l.present ? "present" : "absent")") }
            }
        }

        /// Upstream's `workenv info` without an argument: the cache as a whole.
        func cacheInfo() {
            let es = WorkenvCommand.entries()
            let bytes = es.reduce(Int64(0)) { $0 + Int64($1.bytes) }
            if global.json {
                printLine(JSONValue.object([("cache_dir", .string(WorkenvCommand.root())), ("workenvs", .int(Int64(es.count))),
                                            ("bytes", .int(bytes)), ("incomplete", .int(Int64(es.filter { !$0.complete }.count)))]).serializedString(pretty: true))
                return
            }
            printLine("cache     \(WorkenvCommand.root())\nworkenvs  \(es.count)\(es.contains { !$0.complete } ? " (\(es.filter { !$0.complete }.count) incomplete)" : "")\nbytes     \(bytes)")
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Everything about one workenv: package, build, state, index, lock and every slot.",
            discussion: "Reads the metadata the launcher keeps beside the workenv (<cache>/workenv/.NAME.pspf); exit 1 when there is no such workenv.")
        @Argument(help: "Workenv name (the package file name without .psp).") var name: String
        @OptionGroup var global: GlobalOptions

        enum Lock { case none, free, held(pid: String) }

        /// A non-blocking shared flock: a launch that is extracting holds it exclusively (and wrote its pid in it).
        static func lockState(_ p: WorkenvPaths) -> Lock {
            guard let fd = try? FS.open(p.lockFile, O_RDONLY | O_CLOEXEC) else { return .none }
            defer { FS.close(fd) }
            if flock(fd, LOCK_SH | LOCK_NB) == 0 { return .free }
            let pid = (try? FS.readFile(p.lockFile, limit: 32)).map { String(decoding: $0, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "" } ?? ""
            return .held(pid: pid)
        }

        func run() throws {
            let e = WorkenvCommand.named(name)
            let p = WorkenvPaths(cacheRoot: processSettings.cacheRoot, packageFileName: e.name)
            let m = WorkenvCommand.metadata(p)
            let index = (try? FS.readFile(p.indexJSON, limit: 1 << 20)).flatMap { try? JSONValue.parse($0) }
            let lock = Self.lockState(p)
            let slots = (m?.slots ?? []).enumerated().map { (i, s) in (index: i, slot: s, present: FS.exists(p.slotMarker(i))) }
            if global.json {
                let lockJSON: JSONValue
                switch lock {
                case .none: lockJSON = .object([("state", .string("none")), ("pid", .null)])
                case .free: lockJSON = .object([("state", .string("free")), ("pid", .null)])
                case .held(let pid): lockJSON = .object([("state", .string("held")), ("pid", Int64(pid).map { .int($0) } ?? .null)])
                }
                let extra: [(String, JSONValue)] = [
                    ("metadata_dir", .string(p.metaDir)),
                    ("package", m.map { .object([("name", .string($0.packageName)), ("version", .string($0.packageVersion))]) } ?? .null),
                    ("build", m?.json["build"] ?? .null),
                    ("index", index ?? .null),
                    ("lock", lockJSON),
                    ("slots", .array(slots.map { s in
                        .object([("slot", .int(Int64(s.index))), ("id", .string(s.slot.id)), ("lifecycle", .string(s.slot.lifecycle)),
                                 ("target", .string(s.slot.target)), ("size", .int(s.slot.size)), ("present", .bool(s.present))])
                    })),
                ]
                printLine(JSONValue.object(WorkenvCommand.fields(e) + extra).serializedString(pretty: true))
                return
            }
            let build = m?.json["build"]
            let built = [build?["tool"]?.stringValue, build?["tool_version"]?.stringValue, build?["timestamp"]?.stringValue,
                         build?["platform"]?["host"]?.stringValue].compactMap { $0 }.joined(separator: ", ")
            let lockText: String
            switch lock {
            case .none: lockText = "no lock file"
            case .free: lockText = "free"
            case .held(let pid): lockText = "held\(pid.isEmpty ? "" : " by pid \(pid)") (a launch is extracting)"
            }
            var lines = [
                "name           \(e.name)", "path           \(e.path)", "metadata       \(p.metaDir)",
                "package        \(m.map { "\($0.packageName) \($0.packageVersion)" } ?? "unknown (no metadata kept: the extraction never finished)")",
            ]
            if !built.isEmpty { lines.append("built          \(built)") }
            lines += [
                "state          \(e.complete ? "complete" : "incomplete (will be re-extracted)")",
                "checksum       \(e.checksum.isEmpty ? "none recorded" : e.checksum)",
                "files          \(e.files) (\(e.bytes) bytes)",
                "last extracted \(e.lastUsed > 0 ? Packer.rfc3339(e.lastUsed) : "never")",
                "lock           \(lockText)",
            ]
            if let i = index {
                let fields = [("format", i["format_version"]?.stringValue), ("package bytes", i["package_size"]?.intValue.map(String.init)),
                              ("launcher bytes", i["launcher_size"]?.intValue.map(String.init)), ("slots", i["slot_count"]?.intValue.map(String.init))]
                lines.append("index          " + fields.compactMap { k, v in v.map { "\(k) \($0)" } }.joined(separator: ", "))
            }
            lines.append("slots          \(slots.count) (\(slots.filter(\.present).count) present)")
            for s in slots {
                lines.append("  [\(s.index)] \(s.slot.id)  \(s.slot.lifecycle)  \(s.slot.target)  \(s.slot.size) B stored  \(s.present ? "present" : "absent")")
            }
            for l in lines { printLine(l) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete one workenv (the next launch re-extracts it).")
        @Argument(help: "Workenv name.") var name: String
        @Flag(name: [.short, .long], help: "Remove without asking (needed when stdin is not a terminal).") var yes = false
        @OptionGroup var global: GlobalOptions
        func run() throws {
            guard WorkenvCommand.exists(name) else { fail("no workenv named \"\(name)\" under \(WorkenvCommand.root())") }
            guard confirmRemoval("workenv \(name)", yes: yes, quiet: global.quiet) else { return }
            try WorkenvCommand.remove(name)
            if !global.quiet { printLine("removed \(name)") }
        }
    }

    struct Clean: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete all workenvs, or those not extracted for N days.")
        @Option(help: "Only workenvs last extracted more than this many days ago.") var olderThan: Int?
        @Flag(name: [.short, .long], help: "Remove without asking (needed when stdin is not a terminal).") var yes = false
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let now = Int64(time(nil))
            let doomed = WorkenvCommand.entries().filter { e in olderThan.map { now - e.lastUsed >= Int64($0) * 86400 } ?? true }
            var removed = [String]()
            if !doomed.isEmpty {
                guard confirmRemoval("\(doomed.count) workenv\(doomed.count == 1 ? "" : "s") (\(doomed.map(\.name).joined(separator: ", ")))",
                                     yes: yes, quiet: global.quiet) else { return }
            }
            for e in doomed {
                try WorkenvCommand.remove(e.name)
                removed.append(e.name)
            }
            if global.json { printLine(JSONValue.array(removed.map { .string($0) }).serializedString(pretty: true)) }
            else if !global.quiet { printLine(removed.isEmpty ? "nothing to clean" : "removed \(removed.joined(separator: ", "))") }
        }
    }
}
