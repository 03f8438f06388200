import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One timed run of one command.
struct Sample: Codable, Sendable {
    /// Wall-clock seconds from just before `posix_spawn` to `wait4`'s return (CLOCK_MONOTONIC).
    var wall: Double
    /// CPU seconds of the child and the descendants it waited for (rusage of wait4).
    var user: Double
    var sys: Double
}

/// A command line plus the environment changes it runs with.
struct Command: Sendable {
    var argv: [String]
    /// Added to (or, with a nil value, removed from) the harness's own environment.
    var env: [String: String?] = [:]
    /// Where stdout goes (default: /dev/null).
    var stdoutPath: String = "/dev/null"

    init(_ argv: [String], env: [String: String?] = [:], stdout: String = "/dev/null") {
        self.argv = argv
        self.env = env
        self.stdoutPath = stdout
    }

    /// Shell-like rendering for reports.
    var display: String {
        let envPart = env.sorted { $0.key < $1.key }.map { k, v in v.map { "\(k)=\(shellQuote($0))" } ?? "-u \(k)" }
        var s = (envPart + argv.map(shellQuote)).joined(separator: " ")
        if stdoutPath != "/dev/null" { s += " > " + shellQuote(stdoutPath) }
        return s
    }
}

func shellQuote(_ s: String) -> String {
    if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Finds an executable on PATH (or checks an explicit path).
func which(_ name: String) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(dir)/\(name)"
        if access(p, X_OK) == 0 { return p }
    }
    return nil
}

/// Runs commands with posix_spawn and reaps them with wait4, so each sample has the child's own
/// rusage. The child's stderr goes to a scratch file that is quoted when the command fails.
struct Spawner {
    let scratchDir: String
    let baseEnv: [String: String]

    init(scratchDir: String) {
        self.scratchDir = scratchDir
        self.baseEnv = ProcessInfo.processInfo.environment
    }

    func environment(for cmd: Command) -> [String] {
        var e = baseEnv
        for (k, v) in cmd.env { e[k] = v }
        return e.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// Peak RSS of one run of `cmd`, in KiB, measured by GNU time (`time`: /usr/bin/time).
    ///
    /// Not from our own wait4: posix_spawn starts the child with clone(CLONE_VM|CLONE_VFORK), so until
    /// its exec the child runs in the harness's address space, and exec records that old mm's high-water
    /// mark into the child's ru_maxrss (fs/exec.c, exec_mmap → setmax_mm_hiwater_rss). Every child would
    /// report at least the harness's own ~25 MiB. GNU time forks from a ~1 MiB process instead, so its
    /// %M is the command's own peak within about 1 MiB.
    func peakRSS(_ cmd: Command, time: String, what: String) throws -> Int {
        let file = scratchDir + "/rss.txt"
        var wrapped = cmd
        wrapped.argv = [time, "-f", "%M", "-o", file] + cmd.argv
        try measure(wrapped, what: what)
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        guard let last = text.split(separator: "\n").last, let kib = Int(last.trimmingCharacters(in: .whitespaces)) else {
            throw BenchError("\(what): GNU time wrote no peak RSS to \(file) ('\(text.prefix(80))')")
        }
        return kib
    }

    /// Runs `cmd` once; throws unless it exits 0. Returns the sample.
    @discardableResult
    func measure(_ cmd: Command, what: String) throws -> Sample {
        let errPath = scratchDir + "/stderr.txt"
        let (status, sample) = try spawnWait(cmd, stderrPath: errPath)
        if status != 0 {
            let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            let tail = err.split(separator: "\n").suffix(6).joined(separator: "\n    ")
            throw BenchError("\(what): `\(cmd.display)` \(describeStatus(status))\(tail.isEmpty ? "" : ":\n    " + tail)")
        }
        return sample
    }

    /// Raw spawn + wait4. `status` is the exit code, or 128 + signal.
    func spawnWait(_ cmd: Command, stderrPath: String) throws -> (Int32, Sample) {
        guard let exe = cmd.argv.first else { throw BenchError("empty command") }
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fa, 1, cmd.stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fa, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        // Default signal dispositions and an empty mask in the child, whatever the harness has.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all); sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = cmd.argv.map { strdup($0) } + [nil]
        let envp = environment(for: cmd).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }

        var pid: pid_t = 0
        let t0 = monotonicSeconds()
        let rc = exe.contains("/")
            ? posix_spawn(&pid, exe, &fa, &attr, argv, envp)
            : posix_spawnp(&pid, exe, &fa, &attr, argv, envp)
        guard rc == 0 else { throw BenchError("cannot start \(exe): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        var ru = rusage()
        while wait4(pid, &status, 0, &ru) < 0 {
            guard errno == EINTR else { throw BenchError("wait4 \(exe): \(String(cString: strerror(errno)))") }
        }
        let t1 = monotonicSeconds()
        let sample = Sample(wall: t1 - t0,
                            user: Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) * 1e-6,
                            sys: Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) * 1e-6)
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, sample)
    }
}

func describeStatus(_ s: Int32) -> String {
    s > 128 ? "was killed by signal \(s - 128)" : "exited with status \(s)"
}

/// Runs a helper command (not measured) and returns its output; for versions, git, pip.
func capture(_ argv: [String], env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    guard let exe = which(argv[0]) else { throw BenchError("\(argv[0]) not found on PATH") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = Array(argv.dropFirst())
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    p.environment = e
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-bench-\(getpid())-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: tmp.path + ".out", contents: nil)
    _ = FileManager.default.createFile(atPath: tmp.path + ".err", contents: nil)
    defer { unlink(tmp.path + ".out"); unlink(tmp.path + ".err") }
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp.path + ".out"))
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp.path + ".err"))
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    let out = (try? String(contentsOfFile: tmp.path + ".out", encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: tmp.path + ".err", encoding: .utf8)) ?? ""
    return (p.terminationStatus, out, err)
}

/// Runs a helper command and throws with its stderr unless it succeeds.
@discardableResult
func checked(_ argv: [String], env: [String: String] = [:], what: String) throws -> String {
    let r = try capture(argv, env: env)
    guard r.status == 0 else {
        let tail = (r.err + r.out).split(separator: "\n").suffix(8).joined(separator: "\n    ")
        throw BenchError("\(what): `\(argv.map(shellQuote).joined(separator: " "))` exited with status \(r.status):\n    \(tail)")
    }
    return r.out
}
