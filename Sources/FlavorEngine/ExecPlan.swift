import FlavorFormat
import FlavorSys

/// `{workenv}`, `{package_name}`, `{version}`, `{slot:N}` (spec §9.8).
public enum Placeholders {
    /// One pass over the UTF-8 bytes (this runs on every warm start): replacements are not
    /// expanded again, and unknown `{...}` is kept as written.
    public static func expand(_ s: String, workenv: String, metadata m: Metadata) -> String {
        let u = Array(s.utf8)
        guard u.contains(UInt8(ascii: "{")) else { return s }
        var out = [UInt8]()
        out.reserveCapacity(u.count + workenv.utf8.count)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "{"), let close = u[i...].firstIndex(of: UInt8(ascii: "}")),
               let rep = replacement(u[(i + 1)..<close], workenv: workenv, metadata: m) {
                out += rep.utf8
                i = close + 1
            } else {
                out.append(u[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func replacement(_ name: ArraySlice<UInt8>, workenv: String, metadata m: Metadata) -> String? {
        if name.elementsEqual("workenv".utf8) { return workenv }
        if name.elementsEqual("package_name".utf8) { return m.packageName }
        if name.elementsEqual("version".utf8) { return m.packageVersion }
        if name.starts(with: "slot:".utf8), let n = Int(String(decoding: name.dropFirst(5), as: UTF8.self)), n >= 0, n < m.slots.count {
            let rel = m.slots[n].relativeTarget
            return rel.isEmpty ? workenv : workenv + "/" + rel
        }
        return nil
    }
}

/// Shell-style splitting: whitespace separates words; single quotes are literal; double quotes
/// allow \" \\ \$ \`; a backslash outside quotes escapes the next character.
public func shellSplit(_ s: String) throws(EngineError) -> [String] {
    // Common case (every warm start): no quotes or backslashes, so only whitespace separates words.
    if !s.utf8.contains(where: { $0 == UInt8(ascii: "'") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
        var words = [String]()
        var start: String.Index? = nil
        var i = s.utf8.startIndex
        while i < s.utf8.endIndex {
            let c = s.utf8[i]
            if c == 0x20 || c == 0x09 || c == 0x0A {
                if let st = start { words.append(String(s.unicodeScalars[st..<i])); start = nil }
            } else if start == nil {
                start = i
            }
            i = s.utf8.index(after: i)
        }
        if let st = start { words.append(String(s.unicodeScalars[st...])) }
        return words
    }
    var words = [String](), cur = "", inWord = false
    var it = Array(s.unicodeScalars).makeIterator()
    while let c = it.next() {
        switch c {
        case " ", "\t", "\n":
            if inWord { words.append(cur); cur = ""; inWord = false }
        case "'":
            inWord = true
            var closed = false
            while let d = it.next() { if d == "'" { closed = true; break }; cur.unicodeScalars.append(d) }
            if !closed { throw EngineError(.config, "command has an unterminated single quote: \(s)") }
        case "\"":
            inWord = true
            var closed = false
            while let d = it.next() {
                if d == "\"" { closed = true; break }
                if d == "\\" {
                    guard let e = it.next() else { break }
                    if !["\"", "\\", "$", "`"].contains(e) { cur.unicodeScalars.append("\\") }
                    cur.unicodeScalars.append(e)
                } else {
                    cur.unicodeScalars.append(d)
                }
            }
            if !closed { throw EngineError(.config, "command has an unterminated double quote: \(s)") }
        case "\\":
            inWord = true
            if let e = it.next() { cur.unicodeScalars.append(e) }
        default:
            inWord = true
            cur.unicodeScalars.append(c)
        }
    }
    if inWord { words.append(cur) }
    return words
}

/// The environment and argv the payload runs with (spec §9.7–9.8).
public struct ExecPlan: Sendable {
    public var program: String
    public var argv: [String]
    public var env: [String]

    /// Glob match with `*` and `?` (for runtime.env unset/pass); `?` is one Unicode scalar.
    public static func globMatch(_ pattern: String, _ name: String) -> Bool { Glob.match(pattern, name) }

    public static func environment(base: [String], metadata m: Metadata, workenv: String, lazySlots: String? = nil, exePath: String,
                                   settings: Settings, warn: (String) -> Void) -> [String] {
        var env = EnvironmentEntries(base)
        if env.get("FLAVOR_CACHE_DIR") == nil, let h = settings.home { env.set("FLAVOR_CACHE_DIR", h + "/.cache/flavor/workenv") }
        let r = m.runtimeEnv
        for pattern in r.unset { env.remove(matching: pattern, except: r.pass) }
        for (old, new) in r.map {
            if let v = env.get(old) { env.remove(old); env.set(new, v) }
        }
        for (k, v) in r.set { env.set(k, v) }
        for p in r.pass where !p.utf8.contains(UInt8(ascii: "*")) && !p.utf8.contains(UInt8(ascii: "?")) && env.get(p) == nil {
            warn("warning: runtime.env.pass names \(p), which is not set")
        }
        for (k, v) in m.workenvEnv { env.set(k, Placeholders.expand(v, workenv: workenv, metadata: m)) }
        for (k, v) in m.executionEnv { env.set(k, Placeholders.expand(v, workenv: workenv, metadata: m)) }
        env.set("FLAVOR_WORKENV", workenv)
        env.set("FLAVOR_COMMAND_NAME", lastPathComponent(exePath) ?? "")
        env.set("FLAVOR_ORIGINAL_COMMAND", exePath)
        // The package path, so the app can ask for lazy slots: FLAVOR_LAUNCHER_CLI=1 $FLAVOR_PACKAGE ensure <slot>.
        env.set("FLAVOR_PACKAGE", exePath)
        // Where lazy slots' markers are: the Python import hook acts only when this names its own
        // workenv's (so a value inherited from another package, or an upstream launcher, leaves it idle).
        if let lazySlots { env.set("FLAVOR_LAZY_SLOTS", lazySlots) }
        let path = env.get("PATH")
        env.set("PATH", path.map { workenv + "/bin:" + $0 } ?? workenv + "/bin")
        return env.entries
    }

    public static func make(metadata m: Metadata, workenv: String, lazySlots: String? = nil, exePath: String, userArgs: [String],
                            baseEnv: [String], settings: Settings, warn: (String) -> Void) throws(EngineError) -> ExecPlan {
        let env = environment(base: baseEnv, metadata: m, workenv: workenv, lazySlots: lazySlots, exePath: exePath, settings: settings, warn: warn)
        let words = try shellSplit(Placeholders.expand(m.command, workenv: workenv, metadata: m))
        guard let first = words.first else { throw EngineError(.config, "execution.command is empty") }
        let program = try resolve(first, env: env)
        return ExecPlan(program: program, argv: [program] + words.dropFirst() + userArgs, env: env)
    }

    /// `python ARGS…` in the launcher CLI: the bundled interpreter with the environment a normal run
    /// gets. The interpreter is one path after expansion, not a command line, so it is not split.
    public static func python(interpreter: String, metadata m: Metadata, workenv: String, lazySlots: String? = nil, exePath: String, userArgs: [String],
                              baseEnv: [String], settings: Settings, warn: (String) -> Void) throws(EngineError) -> ExecPlan {
        let env = environment(base: baseEnv, metadata: m, workenv: workenv, lazySlots: lazySlots, exePath: exePath, settings: settings, warn: warn)
        let expanded = Placeholders.expand(interpreter, workenv: workenv, metadata: m)
        guard !expanded.isEmpty else { throw EngineError(.config, "runtime.python.interpreter is empty") }
        let program = try resolve(expanded, env: env)
        return ExecPlan(program: program, argv: [program] + userArgs, env: env)
    }

    /// A bare name is looked up on the payload's PATH (which starts with `<workenv>/bin`).
    static func resolve(_ first: String, env: [String]) throws(EngineError) -> String {
        guard !first.utf8.contains(UInt8(ascii: "/")) else { return first }
        let path = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? ""
        guard let found = path.split(separator: ":").map({ String($0) + "/" + first }).first(where: Exec.isExecutable) else {
            throw EngineError(.execution, "command \"\(first)\" not found on PATH")
        }
        return found
    }
}

/// Setup commands (spec §9.5), run once after extraction with `{workenv}` = the final workenv.
public enum SetupCommands {
    public static func run(_ m: Metadata, workenv: String, environment: [String], log: (String) -> Void) throws(EngineError) {
        guard !m.setupCommands.isEmpty else { return }
        let hostPath = environment.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
        var base = environment
        base.removeAll { $0.hasPrefix("FLAVOR_WORKENV=") || $0.hasPrefix("PATH=") }
        base.append("FLAVOR_WORKENV=" + workenv)
        for (k, v) in m.executionEnv { base.append(k + "=" + Placeholders.expand(v, workenv: workenv, metadata: m)) }
        base.append("PATH=" + workenv + "/bin:" + (hostPath ?? "/usr/bin:/bin"))
        func x(_ s: String) -> String { Placeholders.expand(s, workenv: workenv, metadata: m) }
        for (i, c) in m.setupCommands.enumerated() {
            let type = c["type"]?.stringValue ?? (c.stringValue != nil ? "execute" : "")
            switch type {
            case "execute":
                try runCommand(x(c["command"]?.stringValue ?? c.stringValue ?? ""), extra: [], env: base, index: i, log: log)
            case "enumerate_and_execute":
                let dir = x(c["enumerate"]?["path"]?.stringValue ?? "")
                let pattern = c["enumerate"]?["pattern"]?.stringValue ?? "*"
                let files = ((try? FS.listDirectory(dir)) ?? []).filter { ExecPlan.globMatch(pattern, $0) }
                for f in files {
                    try runCommand(x(c["command"]?.stringValue ?? ""), extra: [dir + "/" + f], env: base, index: i, log: log)
                }
            case "write_file":
                let path = x(c["path"]?.stringValue ?? "")
                let mode = c["mode"]?.stringValue.flatMap(parseOctalMode) ?? 0o644
                do {
                    try FS.mkdirs(String(path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")), 0o700)
                    try FS.writeFileAtomically(path, Array(x(c["content"]?.stringValue ?? "").utf8), mode: mode)
                } catch { throw EngineError(.execution, "setup_commands[\(i)] write_file: \(error)") }
            case "chmod":
                let pattern = x(c["path"]?.stringValue ?? "")
                let mode = c["mode"]?.stringValue.flatMap(parseOctalMode) ?? 0o700
                let parts = pattern.split(separator: "/", omittingEmptySubsequences: false)
                let dir = parts.dropLast().joined(separator: "/"), leaf = String(parts.last ?? "")
                for f in ((try? FS.listDirectory(dir)) ?? []) where ExecPlan.globMatch(leaf, f) {
                    _ = try? FS.chmod(dir + "/" + f, mode)
                }
            default:
                throw EngineError(.execution, "setup_commands[\(i)]: unknown type \"\(type)\"")
            }
        }
    }

    static func runCommand(_ command: String, extra: [String], env: [String], index: Int, log: (String) -> Void) throws(EngineError) {
        let words = try shellSplit(command) + extra
        guard var program = words.first else { return }
        if !program.utf8.contains(UInt8(ascii: "/")) {
            let path = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? ""
            program = path.split(separator: ":").map { String($0) + "/" + program }.first(where: Exec.isExecutable) ?? program
        }
        log("setup: \(words.joined(separator: " "))")
        let status: Int32
        do { status = try Exec.spawnAndWait(path: program, argv: words, env: env) } catch {
            throw EngineError(.execution, "setup_commands[\(index)]: \(error)")
        }
        if status != 0 { throw EngineError(.execution, "setup_commands[\(index)] \"\(command)\" exited with \(status)") }
    }
}
