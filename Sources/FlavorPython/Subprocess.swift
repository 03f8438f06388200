import FlavorBuild
import FlavorSys

/// A child process run to completion (pip, the interpreter, strip, patchelf). Foundation's
/// Process lives in Foundation proper, which `flavor` does not load (FoundationEssentials only).
struct Subprocess {
    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        /// The last lines of stderr (or stdout when stderr is empty): what a failure shows.
        func tail(_ lines: Int = 12) -> String {
            let text = stderr.isEmpty ? stdoutText : stderrText
            let all = text.split(whereSeparator: { $0.isNewline })
            return all.suffix(lines).joined(separator: "\n")
        }
    }

    /// Runs `argv` (argv[0] a path, or a name looked up on PATH) with `env` (nil: ours) in `cwd`;
    /// stdin is /dev/null, stdout and stderr are captured. Throws only when it cannot start.
    static func run(_ argv: [String], env: [String]? = nil, cwd: String? = nil) throws(BuildError) -> Result {
        let environment = env ?? Env.all()
        guard let program = resolve(argv[0], env: environment) else {
            throw BuildError("\(argv[0]): not found on PATH")
        }
        do {
            let o = try ChildProcess.run(path: program, argv: argv, env: environment, cwd: cwd)
            return Result(status: o.status, stdout: o.stdout, stderr: o.stderr)
        } catch {
            throw BuildError("cannot run \(program): \(error.reason)")
        }
    }

    /// Like `run`, but a non-zero exit is an error naming `what` and showing the child's last lines.
    static func check(_ argv: [String], what: String, env: [String]? = nil, cwd: String? = nil) throws(BuildError) -> Result {
        let r = try run(argv, env: env, cwd: cwd)
        guard r.status == 0 else { throw BuildError("\(what) failed (exit \(r.status)):\n\(r.tail())") }
        return r
    }

    static func resolve(_ name: String, env: [String]) -> String? {
        if name.contains("/") { return name }
        let path = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { String($0) + "/" + name }.first(where: Exec.isExecutable)
    }

    /// Whether `name` can be run (on PATH or as a path).
    static func available(_ name: String) -> Bool { resolve(name, env: Env.all()).map(Exec.isExecutable) ?? false }
}
