import FlavorFormat
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

/// Launcher exit codes (spec §9.10).
public enum LauncherExit {
    public static let ok: Int32 = 0
    public static let verifyFailed: Int32 = 1
    public static let format: Int32 = 102
    public static let extraction: Int32 = 103
    public static let execution: Int32 = 104
    public static let usage: Int32 = 105
    public static let io: Int32 = 106
    public static let integrity: Int32 = 107
    public static let config: Int32 = 109
    public static let dependency: Int32 = 110
    /// Ours: refused by policy (upstream Rust exits 1, which a payload also uses; Go 104).
    public static let policy: Int32 = 111

    /// What the user can do about it, appended to the one error line.
    public static func hint(for e: EngineError) -> String {
        switch e.kind {
        case .integrity: return " (the package is damaged or was modified; get a fresh copy, or see FLAVOR_VALIDATION)"
        case .unreadable, .format: return " (not a complete PSPF/2025 package; was the download cut short?)"
        case .io: return " (check free space and permissions of the cache, or set FLAVOR_CACHE_DIR)"
        case .extraction: return " (the workenv was not published; the next launch retries)"
        case .config, .execution, .dependency, .policy: return ""
        }
    }

    public static func code(for e: EngineError) -> Int32 {
        switch e.kind {
        case .unreadable, .format: return format
        case .integrity: return integrity
        case .extraction: return extraction
        case .io: return io
        case .config: return config
        case .execution: return execution
        case .dependency: return dependency
        case .policy: return policy
        }
    }
}

/// What `flavor-launcher` does, as a library so that tests and the CLI can share it.
public enum Launch {
    public static let version = ToolVersion.current

    public static func log(_ settings: Settings, _ level: String, _ msg: String) {
        func rank(_ l: String) -> Int {
            switch l {
            case "trace": return 0
            case "debug": return 1
            case "info": return 2
            case "error": return 4
            default: return 3   // warn, warning, anything unknown
            }
        }
        if rank(level) >= rank(settings.logLevel) { Process.printError("flavor-launcher: \(msg)") }
    }

    /// Opens and verifies the package per FLAVOR_VALIDATION; returns reader and metadata.
    /// `deferSlots` (a normal launch): the slot list is parsed only if something needs it.
    /// `memo`: the workenv of a start that goes on to use it, whose signature record may stand in for
    /// the Ed25519 check (SignatureMemo); ignored with FLAVOR_WORKENV_CACHE=false.
    public static func open(_ pkg: PackageReader, settings: Settings, deferSlots: Bool = false, memo: WorkenvPaths? = nil,
                            warn: (String) -> Void = { Process.printError("flavor-launcher: " + $0) }) throws(EngineError) -> (PackageReader, Metadata) {
        if settings.validation == .none {
            warn("⚠️  FLAVOR_VALIDATION=none: package integrity is NOT being checked")
            let json = try pkg.metadataJSONBytes()
            return (pkg, try consistent(pkg, try pkg.metadata(jsonBytes: json, deferSlots: deferSlots)))
        }
        do {
            return (pkg, try Verifier.verifyHeader(pkg, deferSlots: deferSlots, memo: settings.workenvCache ? memo : nil))
        } catch {
            guard settings.validation == .relaxed || settings.validation == .minimal else { throw error }
            warn("warning: \(error.message) (continuing: FLAVOR_VALIDATION=\(settings.validation.rawValue))")
            let json = try pkg.metadataJSONBytes()
            return (pkg, try consistent(pkg, try pkg.metadata(jsonBytes: json, deferSlots: deferSlots)))
        }
    }

    /// What every level checks, even `none`: the slot list and the slot table have the same length
    /// (everything after indexes one by the other's position).
    static func consistent(_ pkg: PackageReader, _ m: Metadata) throws(EngineError) -> Metadata {
        guard m.slotCount == pkg.descriptors.count else {
            throw EngineError(.format, "\(pkg.path): metadata lists \(m.slotCount) slots, the slot table has \(pkg.descriptors.count)")
        }
        return m
    }

    /// The normal launch: verify, make the workenv ready, exec (or spawn) the command.
    public static func run(_ package: PackageReader, args: [String], settings: Settings) throws(EngineError) -> Int32 {
        // A warm start needs no slot entries: their parse (which grows with the package) is deferred.
        let paths = workenvPaths(package, settings)
        let (pkg, m) = try open(package, settings: settings, deferSlots: true, memo: paths)
        try Policy.enforce(pkg, m, settings: settings)
        let exe = pkg.path
        try prepare(pkg, m, paths, settings: settings)
        let plan = try ExecPlan.make(metadata: m, workenv: paths.workenv, lazySlots: paths.slotsDir, exePath: exe, userArgs: args,
                                     baseEnv: settings.environment, settings: settings) { log(settings, "warn", $0) }
        return try execute(plan, settings: settings)
    }

    /// Makes the workenv ready for `run` and `python`. One closure literal for both: the Embedded
    /// build specializes the whole extraction path for each literal passed down.
    static func prepare(_ pkg: PackageReader, _ m: Metadata, _ paths: WorkenvPaths, settings: Settings) throws(EngineError) {
        try Workenv.prepare(pkg, m, paths, settings: settings) { log(settings, "info", $0) }
    }

    static func workenvPaths(_ pkg: PackageReader, _ settings: Settings) -> WorkenvPaths {
        WorkenvPaths(cacheRoot: settings.cacheRoot, packageFileName: pkg.fileName)
    }

    /// `python ARGS…`: the workenv made ready as for a run, then the bundled interpreter with ARGS.
    /// A package without `runtime.python.interpreter` is refused before anything is extracted.
    public static func python(_ package: PackageReader, args: [String], settings: Settings) throws(EngineError) -> Int32 {
        let paths = workenvPaths(package, settings)
        let (pkg, m) = try open(package, settings: settings, deferSlots: true, memo: paths)
        guard let interpreter = m.pythonInterpreter, !interpreter.isEmpty else {
            Process.printError("flavor-launcher: \(pkg.fileName) bundles no Python (its metadata has no runtime.python.interpreter)")
            return LauncherExit.usage
        }
        try prepare(pkg, m, paths, settings: settings)
        let plan = try ExecPlan.python(interpreter: interpreter, metadata: m, workenv: paths.workenv, lazySlots: paths.slotsDir, exePath: pkg.path,
                                       userArgs: args, baseEnv: settings.environment, settings: settings) { log(settings, "warn", $0) }
        return try execute(plan, settings: settings)
    }

    /// exec (never returns on success) or, with FLAVOR_EXEC_MODE=spawn, run and return the exit code.
    static func execute(_ plan: ExecPlan, settings: Settings) throws(EngineError) -> Int32 {
        if settings.execMode == .spawn {
            do { return try Exec.spawnAndWait(path: plan.program, argv: plan.argv, env: plan.env) } catch {
                throw EngineError(.execution, "cannot run \(plan.program): \(error.reason)\(noexecHint(plan, error.errno, settings))")
            }
        }
        let e = Exec.execve(path: plan.program, argv: plan.argv, env: plan.env)
        throw EngineError(.execution, "cannot exec \(plan.program): \(e.reason)\(noexecHint(plan, e.errno, settings))")
    }

    /// /tmp and home directories are often mounted noexec: then no workenv there can run.
    static func noexecHint(_ plan: ExecPlan, _ errno: Int32, _ s: Settings) -> String {
        guard errno == EACCES, FS.isOnNoexecMount(plan.program) else { return "" }
        return " (\(s.cacheRoot) is on a file system mounted noexec; set FLAVOR_CACHE_DIR to a directory where programs may run)"
    }

    /// FLAVOR_LAUNCHER_CLI=1 commands.
    public static func cli(_ package: PackageReader, args: [String], settings: Settings) throws(EngineError) -> Int32 {
        let command = args.first ?? "info"
        let rest = Array(args.dropFirst())
        switch command {
        case "version", "--version":
            Process.printOut(version + "\n"); return 0
        case "help", "--help", "-h":
            Process.printOut(usage); return 0
        case "run":
            return try run(package, args: rest, settings: settings)
        case "python":
            return try python(package, args: rest, settings: settings)
        case "verify":
            let report = Verifier.fullReport(package)
            for c in report.checks where !c.passed {
                Process.printError("flavor-launcher: \(c.slot.map { "slot \($0) " } ?? "")\(c.name): \(c.detail)")
            }
            Process.printOut(report.valid ? "✅ package verified: \(report.checks.count) checks passed\n" : "❌ verification failed\n")
            return report.valid ? 0 : LauncherExit.verifyFailed
        case "metadata":
            let (_, m) = try open(package, settings: settings)
            Process.printOut(m.json.serializedString(pretty: true) + "\n"); return 0
        case "info":
            let (pkg, m) = try open(package, settings: settings)
            var s = "Package: \(m.packageName) \(m.packageVersion)\nBuilt by: \(m.buildTool)\nCommand: \(m.command)\nSlots: \(m.slots.count)\n"
            for (i, sl) in m.slots.enumerated() {
                let ops = (try? OperationChain(packed: pkg.descriptors[i].operations).manifestName) ?? "?"
                s += "  [\(i)] \(sl.id) → \(sl.target) (\(pkg.descriptors[i].size) bytes, \(ops), \(sl.lifecycle))\n"
            }
            Process.printOut(s); return 0
        case "extract":
            guard rest.count == 2, let i = Int(rest[0]) else {
                Process.printError("flavor-launcher: usage: extract SLOT_INDEX DIR"); return LauncherExit.usage
            }
            let (pkg, m) = try open(package, settings: settings)
            guard i >= 0, i < m.slots.count else {
                Process.printError("flavor-launcher: no slot \(i) (package has \(m.slots.count))"); return LauncherExit.usage
            }
            try Verifier.verifySlot(pkg, i, m)
            let w = try TreeWriter(root: rest[1], backend: WriteBackend.resolve(settings), fileCreationMask: settings.fileCreationMask)
            let o = try Extractor.extract(pkg, slot: i, metadata: m, into: w, settings: settings)
            Process.printOut("extracted slot \(i) (\(o.files) files, \(o.bytes) bytes) to \(rest[1])\n"); return 0
        case "ensure":
            guard rest.count == 1 else { Process.printError("flavor-launcher: usage: ensure SLOT"); return LauncherExit.usage }
            let paths = workenvPaths(package, settings)
            let (pkg, m) = try open(package, settings: settings, memo: paths)
            guard let i = Int(rest[0]).flatMap({ $0 >= 0 && $0 < m.slots.count ? $0 : nil }) ?? m.slots.firstIndex(where: { $0.id == rest[0] }) else {
                Process.printError("flavor-launcher: no slot \"\(rest[0])\""); return LauncherExit.usage
            }
            let path = try Workenv.ensure(pkg, m, paths, slot: i, settings: settings) { log(settings, "info", $0) }
            Process.printOut(path + "\n"); return 0
        default:
            Process.printError("flavor-launcher: unknown command \"\(command)\"\n" + usage)
            return LauncherExit.usage
        }
    }

    /// Words of the usage text that `flavor pack` looks for to tell our launcher from upstream's.
    public static let identity = "runs the PSPF/2025 package it is prepended to"

    public static let usage = """
        flavor-launcher \(version): \(identity).
        With FLAVOR_LAUNCHER_CLI=1: info | version | verify | metadata | extract IDX DIR | ensure SLOT | run [ARGS...]
          | python [ARGS...] (the bundled interpreter, in the app's environment)
        Environment: FLAVOR_VALIDATION=strict|standard|relaxed|minimal|none, FLAVOR_EXEC_MODE=exec|spawn,
          FLAVOR_WORKENV_CACHE=false, FLAVOR_CACHE_DIR, FLAVOR_LOG_LEVEL, FLAVOR_IO=auto|uring|posix

        """
}
