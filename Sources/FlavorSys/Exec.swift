#if canImport(Glibc)
import Glibc
#endif

// Invariants: argv/envp C arrays are built from Swift strings, live until the call returns
// (or execve replaces the process), and are freed on every path that returns.

/// getauxval(3), in glibc and in musl; none of our C modules includes <sys/auxv.h>.
@_silgen_name("getauxval")
private func auxiliaryValue(_ type: UInt) -> UInt

public enum Exec {
    /// Replaces this process; returns only on failure.
    public static func execve(path: String, argv: [String], env: [String]) -> SysError {
        withCStrings(argv) { a in withCStrings(env) { e in _ = Glibc.execve(path, a, e) } }
        return SysError(op: "execve", path: path, errno: Glibc.errno)
    }

    /// fork + execve + waitpid; the child's exit status (128+signal when killed), as a shell reports it.
    public static func spawnAndWait(path: String, argv: [String], env: [String]) throws(SysError) -> Int32 {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let rc = withCStrings(argv) { a in withCStrings(env) { e in posix_spawn(&pid, path, &actions, nil, a, e) } }
        if rc != 0 { throw SysError(op: "posix_spawn", path: path, errno: rc) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if Glibc.errno != EINTR { throw SysError(op: "waitpid", path: path, errno: Glibc.errno) }
        }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        // One block for the pointer array and every string's bytes, copied from the strings' own
        // UTF-8 storage: this runs on every launch, and a strdup per string went through a
        // temporary C-string array each (~60k of a warm start's ~670k instructions).
        var bytes = 0
        for s in strings { bytes += s.utf8.count + 1 }
        let slots = strings.count + 1
        let block = UnsafeMutableRawPointer.allocate(byteCount: slots * MemoryLayout<UnsafeMutablePointer<CChar>?>.stride + bytes,
                                                     alignment: MemoryLayout<UnsafeMutablePointer<CChar>?>.alignment)
        defer { block.deallocate() }
        let ptrs = block.bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: slots)
        var text = (block + slots * MemoryLayout<UnsafeMutablePointer<CChar>?>.stride).bindMemory(to: CChar.self, capacity: bytes)
        for (i, s) in strings.enumerated() {
            ptrs[i] = text
            var s = s
            let n = s.withUTF8 { u in
                if let base = u.baseAddress { UnsafeMutableRawPointer(text).copyMemory(from: base, byteCount: u.count) }
                return u.count
            }
            text[n] = 0
            text += n + 1
        }
        ptrs[strings.count] = nil
        return body(ptrs)
    }

    /// Absolute path of the running executable.
    public static func selfPath() -> String? {
        if let p = execFnPath() { return p }
        // A [UInt8] buffer (prespecialized in the stdlib) instead of FS.readLink's [CChar]: every launch asks.
        var buf = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buf.withUnsafeMutableBytes { Glibc.readlink("/proc/self/exe", $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count - 1) }
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }

    /// The path this process was exec'd by (the auxiliary vector's AT_EXECFN) when it is absolute
    /// and names a regular file: then it is the file /proc/self/exe names, without the ~20 µs that
    /// /proc's per-process lookups add to every start. A symlink or a relative path gives nil, and
    /// the caller asks /proc/self/exe (for a symlink, the package's name and so its workenv are the
    /// target's; a shell that finds the package on PATH passes an absolute path).
    static func execFnPath() -> String? {
        let raw = auxiliaryValue(31)    // AT_EXECFN
        guard raw != 0, let name = UnsafePointer<CChar>(bitPattern: raw), name.pointee == CChar(UInt8(ascii: "/")) else { return nil }
        var st = stat()
        guard lstat(name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return String(cString: name)
    }

    /// True when `path` is an executable regular file.
    public static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }
}

/// An exclusive advisory lock held through `flock`, which the kernel drops when the process dies,
/// so a killed extractor never leaves a lock that blocks the next launch.
public final class FileLock {
    public let path: String
    private let fd: Int32

    /// Blocks until the lock is ours.
    public init(path: String) throws(SysError) {
        self.path = path
        fd = try FS.open(path, O_RDWR | O_CREAT, 0o600)
        while flock(fd, LOCK_EX) != 0 {
            if Glibc.errno == EINTR { continue }
            let e = Glibc.errno
            FS.close(fd)
            throw SysError(op: "flock", path: path, errno: e)
        }
        // Upstream launchers expect "<pid>\n" in the lock while extraction runs (spec §9.5).
        _ = Glibc.ftruncate(fd, 0)
        var text = Array("\(getpid())\n".utf8)
        _ = text.withUnsafeMutableBytes { Glibc.pwrite(fd, $0.baseAddress!, $0.count, 0) }
    }

    deinit {
        // Leave the file in place (unlinking it races with waiters); closing drops the lock.
        _ = Glibc.ftruncate(fd, 0)
        FS.close(fd)
    }
}

public enum MonotonicClock {
    /// Seconds on CLOCK_MONOTONIC.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
