#if canImport(Glibc)
import Glibc
#endif

// Build-time only: the Embedded launcher's small Glibc module has no poll, and needs none of this.
#if !hasFeature(Embedded)

// Invariants: the parent closes its copies of the child's pipe ends right after posix_spawn,
// and its own ends are close-on-exec, so EOF on each pipe means the child (and anything it
// started) is done writing.

/// A child process run to completion with stdin /dev/null and stdout/stderr captured (build
/// tools: pip, an interpreter, strip, patchelf). Foundation's Process lives in Foundation proper,
/// which `flavor` does not load.
public enum ChildProcess {
    public struct Output: Sendable {
        public var status: Int32          // exit code, 128+signal when killed
        public var stdout: [UInt8]
        public var stderr: [UInt8]
    }

    /// Runs `path` with `argv` and `env` in `cwd` (nil: ours). Throws only when it cannot start.
    public static func run(path: String, argv: [String], env: [String], cwd: String? = nil) throws(SysError) -> Output {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0 else { throw SysError(op: "pipe", errno: errno) }
        guard pipe(&errPipe) == 0 else {
            let e = errno
            close(outPipe[0]); close(outPipe[1])
            throw SysError(op: "pipe", errno: e)
        }
        for fd in [outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // posix_spawn has no portable chdir: env -C does it in the child.
        let spawnArgv = cwd.map { ["/usr/bin/env", "-C", $0, path] + argv.dropFirst() } ?? argv
        let spawnPath = cwd == nil ? path : "/usr/bin/env"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var pid: pid_t = 0
        let rc = Exec.withCStrings(spawnArgv) { a in Exec.withCStrings(env) { e in posix_spawn(&pid, spawnPath, &actions, nil, a, e) } }
        close(outPipe[1]); close(errPipe[1])
        if rc != 0 {
            close(outPipe[0]); close(errPipe[0])
            throw SysError(op: "posix_spawn", path: path, errno: rc)
        }
        // Both pipes drained together, so a chatty child never blocks on a full one.
        var out = [UInt8](), err = [UInt8]()
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0), pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        var open = 2
        var buf = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; break }
            for k in 0..<2 where fds[k].fd >= 0 && fds[k].revents != 0 {
                let n = buf.withUnsafeMutableBytes { read(fds[k].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if k == 0 { out += buf[0..<n] } else { err += buf[0..<n] }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(fds[k].fd); fds[k].fd = -1; open -= 1
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(status: code, stdout: out, stderr: err)
    }
}

extension FS {
    /// Copies a regular file's bytes to a new file `dst` (which must not exist) with `mode`.
    public static func copyFile(_ src: String, _ dst: String, mode: UInt32) throws(SysError) {
        let i = try open(src, O_RDONLY)
        defer { close(i) }
        let o = try open(dst, O_WRONLY | O_CREAT | O_EXCL, mode | 0o200)
        var open = true
        defer { if open { close(o) } }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(i, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw SysError(op: "read", path: src, errno: errno)
            }
            try writeAll(o, Array(buf[0..<n]), path: dst)
        }
        try fchmod(o, mode, path: dst)
        open = false
        try closeChecked(o, path: dst)
    }

    /// The first `count` bytes of a file (fewer when it is shorter); nil when it cannot be read.
    public static func readPrefix(_ path: String, count: Int) -> [UInt8]? {
        guard let fd = try? open(path, O_RDONLY) else { return nil }
        defer { close(fd) }
        var b = [UInt8](repeating: 0, count: count)
        let n = b.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n < 0 ? nil : Array(b[0..<n])
    }

    /// realpath(3): symlinks resolved, absolute; nil when the path does not resolve.
    public static func realPath(_ path: String) -> String? {
        guard let p = Glibc.realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
#endif
