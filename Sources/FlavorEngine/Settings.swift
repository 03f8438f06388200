import FlavorSys

/// Every FLAVOR_* environment variable the engine and launcher read, read in one place.
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

    public static var current: Settings {
        let env = Env.subset("FLAVOR_", "HOME=", "XDG_CACHE_HOME=")
        return Settings(lookup: env.get)
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
        if let v = lookup("FLAVOR_INCLUDE_DEV") { includeDevSlots = ["1", "true", "yes", "on"].contains(v.lowercased()) }
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
