import FlavorSys

/// Every environment variable Flavor reads, read once (`fromEnvironment`, in main) and passed
/// down: engine code never looks at the environment itself, so a test picks the backend, level
/// and thresholds per call by building its own value (`Settings(lookup:)`).
public struct Settings: Sendable {
    public enum Validation: String, Sendable { case strict, standard, relaxed, minimal, none }
    public enum ExecMode: String, Sendable { case exec, spawn }
    public enum IOBackend: String, Sendable { case auto, uring, posix }

    public var validation: Validation = .strict
    public var execMode: ExecMode = .exec
    public var io: IOBackend = .auto
    public var workenvCache = true
    public var launcherCLI = false
    public var workenv: String?
    public var cacheDir: String?
    public var xdgCacheHome: String?
    public var home: String?
    public var logLevel = "warn"
    public var maxSlotBytes = 8 << 30
    public var workers = 0   // 0 = one per core
    public var includeDevSlots = false
    /// FLAVOR_EAGER=1: lazy slots are extracted with the rest (progressive extraction off).
    public var eagerAll = false
    /// gzip tar slots that decode to more than this stream through a 1 MiB window instead of
    /// one buffer, keeping RSS bounded for any package size.
    public var streamThreshold = 128 << 20
    /// Chunk size of a big file's gzip stream (ChunkedGzip): files of 4 chunks or more are
    /// compressed and decompressed on every core. 4 MiB keeps per-worker buffers small and the
    /// cost of restarting the LZ77 window at each chunk below 0.1%.
    public var gzipChunkBytes = 4 << 20
    /// A pack whose input exceeds this keeps its encoded slots in a spool file beside the output
    /// instead of memory (costs one more copy of the compressed bytes).
    public var packSpoolBytes = 1 << 30
    /// Set on hosts where the benchmark shows io_uring ahead of plain syscalls.
    public var ioAutoPrefersUring = false
    /// Where to look for the system's libc.so.6 (min_glibc check); nil: GlibcRequirement.libcPaths.
    /// Not read from the environment: tests point it elsewhere.
    public var libcPaths: [String]? = nil
    /// The process umask: O_CREAT modes are filtered by it, and the tree writer puts back what it
    /// took from a package's modes. Read in `fromEnvironment` (umask can only be read by setting
    /// it, so it is read once, before any thread creates files).
    public var fileCreationMask: UInt32 = 0o022
    /// The whole environment as NAME=value, the base of what a launched command or setup
    /// command sees (empty unless `fromEnvironment` filled it).
    public var environment: [String] = []

    // Trust store and operator policy (spec §7).
    public var xdgConfigHome: String?
    public var configDir: String?
    public var trustedKeysDir: String?
    /// The system's config root, /etc/flavor; FLAVOR_SYSTEM_CONFIG_DIR moves it (ours: for tests,
    /// and images that keep configuration elsewhere).
    public var systemConfigDir = "/etc/flavor"

    // Build side (flavor pack); the launcher ignores these.
    public var launcherBin: String?
    public var gzipLevel: Int32?
    public var buildCache: String?
    public var keySeed: String?
    public var sourceDateEpoch: String?
    public var corporaDir: String?

    /// The one reading of the environment; call it once, in main, before starting threads.
    public static func fromEnvironment() -> Settings {
        let env = Env.subset("FLAVOR_", "HOME=", "XDG_", "SOURCE_DATE_EPOCH=")
        var s = Settings(lookup: env.get)
        s.fileCreationMask = FS.processUmask()
        s.environment = Env.all()
        return s
    }

    /// Threads for a parallel pass: FLAVOR_WORKERS, else one per core.
    public var workerCount: Int { workers > 0 ? workers : WorkerPool.coreCount }

    public init(lookup: (String) -> String?) {
        if let v = lookup("FLAVOR_VALIDATION"), let l = Validation(rawValue: v.lowercased()) { validation = l }
        if let v = lookup("FLAVOR_EXEC_MODE"), let m = ExecMode(rawValue: v.lowercased()) { execMode = m }
        if let v = lookup("FLAVOR_IO"), let b = IOBackend(rawValue: v.lowercased()) { io = b }
        if let v = lookup("FLAVOR_WORKENV_CACHE") { workenvCache = !["false", "0", "no", "off"].contains(v.lowercased()) }
        if let v = lookup("FLAVOR_LAUNCHER_CLI") { launcherCLI = ["1", "true", "yes", "on"].contains(v.lowercased()) }
        workenv = lookup("FLAVOR_WORKENV").flatMap { $0.isEmpty ? nil : $0 }
        cacheDir = lookup("FLAVOR_CACHE_DIR").flatMap { $0.isEmpty ? nil : $0 }
        xdgCacheHome = lookup("XDG_CACHE_HOME").flatMap { $0.isEmpty ? nil : $0 }
        home = lookup("HOME").flatMap { $0.isEmpty ? nil : $0 }
        if let v = lookup("FLAVOR_LAUNCHER_LOG_LEVEL") ?? lookup("FLAVOR_LOG_LEVEL") { logLevel = v.lowercased() }
        if let v = lookup("FLAVOR_MAX_SLOT_BYTES"), let n = Int(v), n > 0 { maxSlotBytes = n }
        if let v = lookup("FLAVOR_WORKERS"), let n = Int(v), n > 0 { workers = n }
        ioAutoPrefersUring = lookup("FLAVOR_IO_AUTO_PREFERS")?.lowercased() == "uring"
        if let v = lookup("FLAVOR_STREAM_THRESHOLD"), let n = Int(v), n >= 0 { streamThreshold = n }
        if let v = lookup("FLAVOR_GZIP_CHUNK_BYTES"), let n = Int(v), n >= 64 << 10, n <= 64 << 20 { gzipChunkBytes = n }
        if let v = lookup("FLAVOR_PACK_SPOOL_BYTES"), let n = Int(v), n >= 0 { packSpoolBytes = n }
        if let v = lookup("FLAVOR_EAGER") { eagerAll = ["1", "true", "yes", "on"].contains(v.lowercased()) }
        if let v = lookup("FLAVOR_INCLUDE_DEV") { includeDevSlots = ["1", "true", "yes", "on"].contains(v.lowercased()) }
        func nonEmpty(_ k: String) -> String? { lookup(k).flatMap { $0.isEmpty ? nil : $0 } }
        xdgConfigHome = nonEmpty("XDG_CONFIG_HOME")
        configDir = nonEmpty("FLAVOR_CONFIG_DIR")
        trustedKeysDir = nonEmpty("FLAVOR_TRUSTED_KEYS_DIR")
        if let d = nonEmpty("FLAVOR_SYSTEM_CONFIG_DIR") { systemConfigDir = d }
        launcherBin = nonEmpty("FLAVOR_LAUNCHER_BIN")
        if let v = lookup("FLAVOR_GZIP_LEVEL").flatMap({ Int32($0) }), (1...12).contains(v) { gzipLevel = v }
        buildCache = nonEmpty("FLAVOR_BUILD_CACHE")
        keySeed = nonEmpty("FLAVOR_KEY_SEED")
        sourceDateEpoch = lookup("SOURCE_DATE_EPOCH")
        corporaDir = nonEmpty("FLAVOR_CORPORA_DIR")
    }

    /// The user's config root: FLAVOR_CONFIG_DIR, $XDG_CONFIG_HOME/flavor, ~/.config/flavor
    /// (nil without any of them: no user configuration).
    public var userConfigDir: String? {
        if let d = configDir { return d }
        if let x = xdgConfigHome { return x + "/flavor" }
        return home.map { $0 + "/.config/flavor" }
    }

    /// The user's trusted-keys directory: FLAVOR_TRUSTED_KEYS_DIR, else <user config>/trusted-keys.
    public var userTrustedKeysDir: String? { trustedKeysDir ?? userConfigDir.map { $0 + "/trusted-keys" } }

    /// The value of `name` in `environment` (the first one, as getenv).
    public func environmentValue(_ name: String) -> String? {
        let prefix = name + "="
        return environment.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// Cache root (spec §9.3): parent-of-parent of FLAVOR_WORKENV, FLAVOR_CACHE_DIR,
    /// $XDG_CACHE_HOME/flavor, $HOME/.cache/flavor, then /tmp/flavor.
    public var cacheRoot: String {
        if var w = workenv {
            while w.count > 1 && w.hasSuffix("/") { w.removeLast() }
            var parts = w.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            if parts.count >= 3 {
                parts.removeLast(2)
                let p = parts.joined(separator: "/")
                return p.isEmpty ? "/" : p
            }
        }
        if let c = cacheDir { return c }
        if let x = xdgCacheHome { return x + "/flavor" }
        if let h = home { return h + "/.cache/flavor" }
        return "/tmp/flavor"
    }
}
