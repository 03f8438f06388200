import ArgumentParser
import FlavorEngine
import FlavorFormat
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this installation: launchers, the Python build toolchain, the cache, io_uring, trusted keys and policy.",
        discussion: """
        One line per finding: [OK], [WARN] (works, with a limit: only Python builds need python3, patchelf and \
        strip; without io_uring extraction uses plain syscalls) or [ERR] (packing or every launch fails), with \
        what to do. Exit 0 without an [ERR], 1 with one.
        """)

    @OptionGroup var global: GlobalOptions

    enum Status: String { case ok, warn, error }

    struct Finding {
        var name: String
        var status: Status
        var detail: String
        var fix: String? = nil
    }

    func run() throws {
        let s = processSettings
        let findings = Self.launchers(s) + Self.toolchain(s) + [Self.cache(s), Self.ioUring(s)] + Self.trust(s)
        let failed = findings.contains { $0.status == .error }
        if global.json {
            let rows = findings.map { f in
                JSONValue.object([("name", .string(f.name)), ("status", .string(f.status.rawValue)), ("detail", .string(f.detail))]
                                 + (f.fix.map { [("fix", JSONValue.string($0))] } ?? []))
            }
            printLine(JSONValue.object([("checks", .array(rows)), ("ok", .bool(!failed))]).serializedString(pretty: true))
        } else {
            let tags: [Status: String] = [.ok: "[OK]  ", .warn: "[WARN]", .error: "[ERR] "]
            for f in findings where !global.quiet || f.status == .error {
                printLine("\(tags[f.status]!) \(f.name): \(f.detail)\(f.fix.map { "; fix: \($0)" } ?? "")")
            }
            if !global.quiet {
                let n = { (st: Status) in findings.filter { $0.status == st }.count }
                printLine("doctor: \(n(.ok)) ok, \(n(.warn)) warning\(n(.warn) == 1 ? "" : "s"), \(n(.error)) error\(n(.error) == 1 ? "" : "s")")
            }
        }
        if failed { Process.exit(1) }
    }

    // MARK: launchers

    /// What `flavor pack` would embed, in its order: FLAVOR_LAUNCHER_BIN, then the two beside flavor.
    static func launchers(_ s: Settings) -> [Finding] {
        let exe = Exec.selfPath() ?? ""
        let dir = String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)])
        let chosen = s.launcherBin ?? defaultLauncherPath()
        var out = [Finding]()
        if let env = s.launcherBin { out.append(launcher("launcher:FLAVOR_LAUNCHER_BIN", env, chosen: chosen)) }
        let embedded = dir + "/flavor-launcher-embedded", plain = dir + "/flavor-launcher"
        if FS.exists(embedded) {
            out.append(launcher("launcher:flavor-launcher-embedded", embedded, chosen: chosen))
        } else {
            out.append(Finding(name: "launcher:flavor-launcher-embedded", status: .warn,
                               detail: "not built (\(embedded)): packages get the larger SwiftPM launcher and a slower warm start",
                               fix: "scripts/build-embedded-launcher \(dir)"))
        }
        if FS.exists(plain) {
            out.append(launcher("launcher:flavor-launcher", plain, chosen: chosen))
        } else if chosen == nil {
            out.append(Finding(name: "launcher:flavor-launcher", status: .error,
                               detail: "no launcher next to \(exe): flavor pack --manifest fails without --launcher-bin",
                               fix: "build it (swift build --product flavor-launcher) or install with scripts/install"))
        }
        return out
    }

    /// Present, executable, and static: a PT_INTERP would make every package need that loader and its libraries.
    static func launcher(_ name: String, _ path: String, chosen: String?) -> Finding {
        let role = path == chosen ? " (flavor pack embeds this one)" : ""
        func bad(_ why: String, _ fix: String) -> Finding { Finding(name: name, status: .error, detail: "\(path): \(why)\(role)", fix: fix) }
        guard FS.exists(path) else { return bad("does not exist", "point FLAVOR_LAUNCHER_BIN at a launcher, or unset it") }
        guard Exec.isExecutable(path) else { return bad("not an executable file", "chmod +x \(path), or rebuild it") }
        let bytes: [UInt8]
        do { bytes = try FS.readFile(path, limit: 1 << 30) } catch { return bad("cannot read: \(error.reason)", "check its permissions") }
        let elf: ELF
        do { elf = try ELF(bytes: bytes) } catch { return bad("not an ELF64 executable (\(error))", "rebuild it (swift build)") }
        if let interp = elf.interpreter {
            return bad("dynamically linked (loader \(interp)): every package built with it needs that loader and its libraries on the host",
                       "rebuild the static one (swift build: FlavorLauncher links with -static-executable; or scripts/build-embedded-launcher)")
        }
        return Finding(name: name, status: .ok, detail: "\(path): static executable, \(megabytes(bytes.count))\(role)")
    }

    // MARK: Python build toolchain

    static func onPath(_ name: String, _ s: Settings) -> String? {
        (s.environmentValue("PATH") ?? "/usr/bin:/bin").split(separator: ":").map { $0 + "/" + name }.first(where: Exec.isExecutable)
    }

    /// First line of `argv`'s output when it exits 0, else nil.
    static func firstLine(_ argv: [String], _ s: Settings) -> String? {
        guard let o = try? ChildProcess.run(path: argv[0], argv: argv, env: s.environment), o.status == 0 else { return nil }
        let text = String(decoding: o.stdout.isEmpty ? o.stderr : o.stdout, as: UTF8.self)
        return text.split(separator: "\n").first.map(String.init) ?? ""
    }

    static func toolchain(_ s: Settings) -> [Finding] {
        let only = "only Python builds (flavor pack in a pyproject.toml project) need it"
        var out = [Finding]()
        if let py = onPath("python3", s) {
            out.append(Finding(name: "python3", status: .ok, detail: "\(py): \(firstLine([py, "--version"], s) ?? "version unknown")"))
            if let pip = firstLine([py, "-m", "pip", "--version"], s) {
                out.append(Finding(name: "pip", status: .ok, detail: pip.split(separator: " ").prefix(2).joined(separator: " ") + " (\(py) -m pip)"))
            } else {
                out.append(Finding(name: "pip", status: .warn, detail: "\(py) -m pip --version fails: \(only)",
                                   fix: "apt-get install python3-pip (or \(py) -m ensurepip)"))
            }
        } else {
            out.append(Finding(name: "python3", status: .warn, detail: "not on PATH: \(only); or pass --python",
                               fix: "apt-get install python3 python3-pip"))
        }
        for (tool, package) in [("patchelf", "patchelf"), ("strip", "binutils")] {
            if let p = onPath(tool, s) {
                out.append(Finding(name: tool, status: .ok, detail: p))
            } else {
                out.append(Finding(name: tool, status: .warn, detail: "not on PATH: \(only)", fix: "apt-get install \(package)"))
            }
        }
        return out
    }

    // MARK: cache

    static func cacheSource(_ s: Settings) -> String {
        if s.workenv != nil { return "FLAVOR_WORKENV" }
        if s.cacheDir != nil { return "FLAVOR_CACHE_DIR" }
        if s.xdgCacheHome != nil { return "XDG_CACHE_HOME" }
        return s.home != nil ? "HOME" : "default"
    }

    /// The launcher creates the cache root at the first launch, so a missing one is fine when its nearest
    /// existing ancestor takes a new directory (probed with a real mkdir: as root, access(2) says yes on 0555).
    static func cache(_ s: Settings) -> Finding {
        let root = s.cacheRoot
        let fix = "set FLAVOR_CACHE_DIR to a writable directory on a file system that allows executables"
        func bad(_ why: String) -> Finding { Finding(name: "cache", status: .error, detail: "\(root) (from \(cacheSource(s))): \(why)", fix: fix) }
        var dir = root
        while !FS.exists(dir) {
            guard let slash = dir.lastIndex(of: "/") else { dir = "."; continue }   // relative: below the current directory
            dir = slash == dir.startIndex ? "/" : String(dir[..<slash])
        }
        guard FS.isDirectory(dir) else { return bad(dir == root ? "not a directory" : "cannot be created: \(dir) is not a directory") }
        let probe = dir + "/.flavor-doctor-\(Process.id)"
        do { try FS.mkdir(probe, 0o700) } catch { return bad("not writable (mkdir in \(dir): \(error.reason))") }
        try? FS.removeTree(probe)
        if FS.isOnNoexecMount(dir) { return bad("on a file system mounted noexec: apps in the workenv could not run") }
        if dir != root { return Finding(name: "cache", status: .ok, detail: "\(root) (from \(cacheSource(s))): not created yet; the first launch creates it (\(dir) is writable)") }
        let n = WorkenvCommand.cachedNames().count
        return Finding(name: "cache", status: .ok, detail: "\(root) (from \(cacheSource(s))): writable, \(n) workenv\(n == 1 ? "" : "s")")
    }

    // MARK: io_uring

    static func ioUring(_ s: Settings) -> Finding {
        let sysctl = (try? FS.readFile("/proc/sys/kernel/io_uring_disabled", limit: 16))
            .map { "/proc/sys/kernel/io_uring_disabled=" + String(decoding: $0, as: UTF8.self).split(separator: "\n").joined() }
            ?? "no /proc/sys/kernel/io_uring_disabled"
        if let why = WriteBackend.uringUnavailableReason {
            return Finding(name: "io_uring", status: .warn, detail: "refused: \(why); \(sysctl): extraction falls back to plain syscalls",
                           fix: "nothing is needed; to allow it: sysctl kernel.io_uring_disabled=0 and a seccomp profile that permits io_uring_setup")
        }
        let backend = WriteBackend.resolve(s) { _ in }
        return Finding(name: "io_uring", status: .ok,
                       detail: "available (io_uring_setup works; \(sysctl)); extraction uses \(backend == .uring ? "io_uring" : "plain syscalls") (FLAVOR_IO=\(s.io.rawValue))")
    }

    // MARK: trusted keys and policy

    static func trust(_ s: Settings) -> [Finding] {
        var out = [Finding]()
        var fingerprints = Set<String>()
        for (label, dir) in zip(["trusted-keys:system", "trusted-keys:user"], TrustStore.dirs(s)) {
            guard FS.isDirectory(dir) else {
                out.append(Finding(name: label, status: .ok, detail: "\(dir): none (needed only when a policy requires a trusted key)"))
                continue
            }
            do { _ = try FS.listDirectory(dir) } catch {
                out.append(Finding(name: label, status: .warn, detail: "\(dir): cannot be listed: \(error.reason)", fix: "chmod a+rx \(dir)"))
                continue
            }
            var skipped = [String]()
            let keys = TrustStore.keyFiles(in: [dir]) { skipped.append($0) }
            fingerprints.formUnion(keys.map(\.fingerprint))
            let count = "\(keys.count) key\(keys.count == 1 ? "" : "s")"
            if skipped.isEmpty {
                out.append(Finding(name: label, status: .ok, detail: "\(dir): \(count)"))
            } else {
                out.append(Finding(name: label, status: .warn, detail: "\(dir): \(count); skipped \(skipped.count) unreadable: \(skipped.joined(separator: "; "))",
                                   fix: "fix or remove those files (flavor trust add KEY.pub writes a good one)"))
            }
        }
        var warnings = [String]()
        do {
            let p = try OperatorPolicy.load(s) { warnings.append($0) }
            let files = p.files.isEmpty ? "no policy file (every signed package may run)" : p.files.joined(separator: ", ")
            if p.requireTrustedKey && fingerprints.isEmpty && p.mode(.untrustedKey) == .deny {
                out.append(Finding(name: "policy", status: .error, detail: "\(files): requires a trusted signing key and none is trusted: every launch is refused (exit 111)",
                                   fix: "flavor trust add KEY.pub (the publisher's public key)"))
            } else if !warnings.isEmpty {
                out.append(Finding(name: "policy", status: .warn, detail: "\(files): \(warnings.joined(separator: "; "))",
                                   fix: "check the keys this launcher ignores (flavor policy show)"))
            } else {
                out.append(Finding(name: "policy", status: .ok, detail: "\(files)\(p.requireTrustedKey ? "; requires a trusted key" : "")"))
            }
        } catch {
            out.append(Finding(name: "policy", status: .error, detail: error.message,
                               fix: "correct or remove that file: a broken policy stops every launch (exit 109); `flavor policy show` re-checks it"))
        }
        return out
    }
}
