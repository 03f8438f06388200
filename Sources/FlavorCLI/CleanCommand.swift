import ArgumentParser
import FlavorEngine
import FlavorFormat
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

/// `n` bytes as "12.3 MB" (MiB, one decimal; no Foundation formatter here).
func megabytes(_ n: Int) -> String {
    let tenths = (n * 10 + (1 << 19)) >> 20
    return "\(tenths / 10).\(tenths % 10) MB"
}

struct CleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove the workenv cache; with --all also the build cache of `flavor pack`.",
        discussion: """
        Removes every workenv under <cache>/workenv with its hidden metadata dir (the next launch \
        re-extracts it), each under its extraction lock. --all also removes the Python runtimes and \
        unpacked interpreter archives `flavor pack` keeps (FLAVOR_BUILD_CACHE, else $XDG_CACHE_HOME/flavor/build, \
        else ~/.cache/flavor/build) and scratch left by a killed `flavor bench --calibrate-io`. Trusted keys, \
        policy and the io-backend calibration are never touched. Without -y it asks on a terminal and refuses \
        (exit 1) when stdin is not one.
        """)

    @Flag(help: "Also remove the build cache (staged Python runtimes, unpacked interpreter archives) and calibration scratch.")
    var all = false
    @Flag(help: "List what would be removed, with sizes; remove nothing.") var dryRun = false
    @Flag(name: [.short, .long], help: "Remove without asking (needed when stdin is not a terminal).") var yes = false
    @OptionGroup var global: GlobalOptions

    enum Kind: String { case workenv, buildCache = "build-cache", scratch }

    struct Item {
        var kind: Kind
        var name: String
        var paths: [String]
        var bytes: Int
    }

    /// What `flavor pack` makes in the build cache (PythonBuild: `runtime-…`, `archive-…`); nothing else there is ours.
    static func buildCacheItems() -> [Item] {
        let dir = PackCommand.buildCacheDir(processSettings)
        return ((try? FS.listDirectory(dir)) ?? []).filter { $0.hasPrefix("runtime-") || $0.hasPrefix("archive-") }.map {
            Item(kind: .buildCache, name: $0, paths: [dir + "/" + $0], bytes: WorkenvCommand.treeSize(dir + "/" + $0).bytes)
        }
    }

    /// `calibrate-<pid>` dirs whose bench process is gone (a live one is still measuring).
    static func scratchItems() -> [Item] {
        let root = processSettings.cacheRoot
        return ((try? FS.listDirectory(root)) ?? []).compactMap { n in
            guard n.hasPrefix("calibrate-"), let pid = Int32(n.dropFirst(10)), !Process.isAlive(pid) else { return nil }
            return Item(kind: .scratch, name: n, paths: [root + "/" + n], bytes: WorkenvCommand.treeSize(root + "/" + n).bytes)
        }
    }

    func items() -> [Item] {
        var out = WorkenvCommand.cachedNames().map { name in
            let p = WorkenvPaths(cacheRoot: processSettings.cacheRoot, packageFileName: name)
            return Item(kind: .workenv, name: name, paths: [p.workenv, p.metaDir].filter(FS.exists),
                        bytes: WorkenvCommand.treeSize(p.workenv).bytes + WorkenvCommand.treeSize(p.metaDir).bytes)
        }
        if all { out += Self.buildCacheItems() + Self.scratchItems() }
        return out
    }

    /// "2 workenvs and 3 build cache entries (12.3 MB)".
    static func summary(_ items: [Item]) -> String {
        let counts: [(Kind, String, String)] = [(.workenv, "workenv", "workenvs"), (.buildCache, "build cache entry", "build cache entries"),
                                                (.scratch, "calibration scratch dir", "calibration scratch dirs")]
        let parts = counts.compactMap { k, one, many -> String? in
            let n = items.filter { $0.kind == k }.count
            return n == 0 ? nil : "\(n) \(n == 1 ? one : many)"
        }
        let list = parts.count > 1 ? parts.dropLast().joined(separator: ", ") + " and " + parts[parts.count - 1] : parts.joined()
        return "\(list) (\(megabytes(items.reduce(0) { $0 + $1.bytes })))"
    }

    func report(_ items: [Item], removed: Bool) {
        let total = items.reduce(0) { $0 + $1.bytes }
        if global.json {
            let rows = items.map { i in
                JSONValue.object([("kind", .string(i.kind.rawValue)), ("name", .string(i.name)),
                                  ("paths", .array(i.paths.map { .string($0) })), ("bytes", .int(Int64(i.bytes)))])
            }
            printLine(JSONValue.object([("cache_root", .string(processSettings.cacheRoot)), ("dry_run", .bool(dryRun)), ("items", .array(rows)),
                                        ("total_bytes", .int(Int64(total))), ("freed_bytes", .int(Int64(removed ? total : 0)))])
                .serializedString(pretty: true))
            return
        }
        if global.quiet { return }
        if items.isEmpty {
            printLine("nothing to clean under \(processSettings.cacheRoot)\(all ? " and \(PackCommand.buildCacheDir(processSettings))" : "")")
            return
        }
        for i in items { printLine("\(removed ? "removed" : "would remove") \(i.kind.rawValue) \(i.name)  \(megabytes(i.bytes))  \(i.paths[0])") }
        printLine(removed ? "freed \(megabytes(total)) (\(total) bytes)" : "dry run: would free \(megabytes(total)) (\(total) bytes); nothing removed")
    }

    func run() throws {
        let found = items()
        if found.isEmpty || dryRun { report(found, removed: false); return }
        guard confirmRemoval(Self.summary(found), yes: yes, quiet: global.quiet) else { return }
        for i in found {
            if i.kind == .workenv { try WorkenvCommand.remove(i.name) } else {
                do { try FS.removeTree(i.paths[0]) } catch { fail("\(error)") }
            }
        }
        report(found, removed: true)
    }
}

/// Whether to go on removing `what`: yes with `-y`; on a terminal, when the user answers y; with
/// stdin not a terminal (a script that forgot -y), never: that fails with exit 1.
func confirmRemoval(_ what: String, yes: Bool, quiet: Bool) -> Bool {
    if yes { return true }
    guard isatty(0) == 1 else {
        fail("refusing to remove \(what) without confirmation: stdin is not a terminal; pass -y to remove them")
    }
    try? FS.writeAll(2, Array("Remove \(what)? [y/N] ".utf8))   // no newline: the answer goes on this line
    let answer = (readLine() ?? "").lowercased()
    guard answer == "y" || answer == "yes" else {
        if !quiet { printLine("nothing removed") }
        return false
    }
    return true
}
