import Foundation
import Testing

/// Paths of the built executables, the repository and the upstream 0.5.4 helpers.
enum Tools {
    /// The test runner lives next to the executables SwiftPM built for this configuration.
    static let buildDir: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // swift-testing may run from inside the .xctest bundle directory.
        if dir.path.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.path
    }()
    static let flavor = buildDir + "/flavor"
    /// FLAVOR_TEST_LAUNCHER runs the launcher tests against another build of the launcher
    /// (scripts/test: a fourth pass with the Embedded Swift one).
    static let launcher = ProcessInfo.processInfo.environment["FLAVOR_TEST_LAUNCHER"].flatMap { $0.isEmpty ? nil : $0 }
        ?? buildDir + "/flavor-launcher"
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let pspfdump = repoRoot + "/../shared/pspfdump.py"
    static let upstreamDir = repoRoot + "/upstream/bin"

    /// CI sets FLAVOR_REQUIRE=interop: a missing upstream then fails instead of skipping.
    static var interopRequired: Bool { (ProcessInfo.processInfo.environment["FLAVOR_REQUIRE"] ?? "").contains("interop") }
    static var upstreamPresent: Bool {
        ["flavor-rs-builder", "flavor-rs-launcher", "flavor-go-builder", "flavor-go-launcher"]
            .allSatisfy { FileManager.default.isExecutableFile(atPath: upstreamDir + "/" + $0) }
    }
    static var interopEnabled: Bool { upstreamPresent || interopRequired }

    static func upstream(_ name: String) throws -> String {
        try #require(upstreamPresent, "upstream 0.5.4 helpers missing: run scripts/fetch-upstream")
        return upstreamDir + "/" + name
    }
}

/// How a launch or extraction writes files: plain syscalls, io_uring (from the first file on,
/// as FLAVOR_IO=uring gives once a slot has more than a handful of files), or plain syscalls
/// with every gzip tar slot through the streaming extractor. Tests that exercise extraction
/// take `IOVariant.allCases` as arguments and pass `env` to the program they run.
enum IOVariant: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case posix, uring, streamed
    var testDescription: String { rawValue }
    var env: [String: String] {
        switch self {
        case .posix: return ["FLAVOR_IO": "posix"]
        case .uring: return ["FLAVOR_IO": "uring"]
        case .streamed: return ["FLAVOR_IO": "posix", "FLAVOR_STREAM_THRESHOLD": "0"]
        }
    }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var output: String { stdout + stderr }
}

/// Runs a program to completion with a clean, explicit environment.
@discardableResult
func run(_ exe: String, _ args: [String] = [], env: [String: String] = [:], cwd: String? = nil, inheritEnv: Bool = true,
         input: String? = nil) throws -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    var e = inheritEnv ? ProcessInfo.processInfo.environment : [:]
    // A test says which backend and thresholds it wants (IOVariant); none leak from the runner.
    for k in e.keys where k.hasPrefix("FLAVOR_") && k != "FLAVOR_REQUIRE" { e[k] = nil }
    for (k, v) in env { e[k] = v }
    p.environment = e
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let inPipe = Pipe()
    p.standardInput = input == nil ? FileHandle.nullDevice : inPipe
    try startRetryingTextBusy(p)
    if let input {
        inPipe.fileHandleForWriting.write(Data(input.utf8))
        try inPipe.fileHandleForWriting.close()
    }
    // Drain both pipes before waiting so a chatty child cannot block on a full pipe.
    let errData = Locked(Data())
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { errData.set(err.fileHandleForReading.readDataToEndOfFile()); group.leave() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return RunResult(status: status, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData.get(), as: UTF8.self))
}

/// A package written a moment ago can still be open for writing in a child that another test
/// thread forked just then (until that child execs and O_CLOEXEC closes it); exec then fails with
/// ETXTBSY. The window is a fork-to-exec gap, so trying again a bounded number of times is enough.
func startRetryingTextBusy(_ p: Process) throws {
    var attempt = 0
    while true {
        do { try p.run(); return } catch let e as NSError {
            let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError
            let busy = (e.domain == NSPOSIXErrorDomain && e.code == Int(ETXTBSY)) || underlying?.code == Int(ETXTBSY)
            attempt += 1
            if !busy || attempt > 200 { throw e }
            sched_yield()
        }
    }
}

/// A fresh directory, removed when the value goes away.
final class TempDir {
    let path: String
    init(_ tag: String = "flavor-test") {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit {
        // Read-only directories from packages must not stop the cleanup.
        _ = try? run("/bin/chmod", ["-R", "u+rwX", path])
        try? FileManager.default.removeItem(atPath: path)
    }
    func sub(_ p: String) -> String { path + "/" + p }

    func write(_ rel: String, _ text: String, mode: Int = 0o644) throws {
        let full = sub(rel)
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: full)
    }
}

/// A small app: a script that prints its args, selected env vars and the files it sees in the
/// workenv (relative paths with sizes), plus a data directory.
struct DemoApp {
    let dir: TempDir
    init() throws {
        dir = TempDir("flavor-app")
        try dir.write("src/show.sh", """
            #!/bin/sh
            echo "args:$*"
            echo "GREETING=$GREETING"
            echo "MODE=$APP_MODE"
            [ -z "$NO_LISTING" ] && cd "$FLAVOR_WORKENV" && find . -type f | LC_ALL=C sort | while read f; do echo "file:$f $(wc -c < "$f")"; done
            [ -n "$MARKER" ] && echo ran > "$MARKER"
            exit 0

            """, mode: 0o755)
        try dir.write("tree/data/a.txt", "alpha\n")
        try dir.write("tree/data/nested/b.txt", String(repeating: "beta ", count: 500))
        try dir.write("tree/data/run.sh", "#!/bin/sh\necho run\n", mode: 0o755)
    }

    /// Manifest for `flavor pack`: the tree directory (we tar+gzip it).
    func manifest(name: String = "demo", treeSource: String? = nil, extra: String = "") throws -> String {
        let path = dir.sub("\(name)-manifest.json")
        let tree = treeSource ?? dir.sub("tree")
        try dir.write("\(name)-manifest.json", """
            {"package": {"name": "\(name)", "version": "1.2.3"},
             "execution": {"command": "{workenv}/bin/show.sh", "env": {"GREETING": "hi"}},
             "slots": [
               {"slot": 0, "id": "show", "source": "\(dir.sub("src/show.sh"))", "target": "bin/show.sh",
                "operations": "none", "purpose": "payload", "lifecycle": "runtime", "permissions": "0755"},
               {"slot": 1, "id": "tree", "source": "\(tree)", "target": "{workenv}", "operations": "tgz",
                "purpose": "payload", "lifecycle": "runtime"}
             ]\(extra)}
            """)
        return path
    }

    /// The tree as a .tar.gz, for upstream builders (which store sources as given).
    func treeTarball() throws -> String {
        let out = dir.sub("tree.tgz")
        if !FileManager.default.fileExists(atPath: out) {
            let r = try run("/bin/tar", ["--sort=name", "--owner=0", "--group=0", "-czf", out, "-C", dir.sub("tree"), "."])
            try #require(r.status == 0, "tar: \(r.stderr)")
        }
        return out
    }
}

/// Packs with our CLI; returns the package path.
@discardableResult
func flavorPack(_ manifest: String, _ output: String, launcher: String = Tools.launcher, seed: String = "test-seed",
                env: [String: String] = [:], extraArgs: [String] = []) throws -> String {
    let r = try run(Tools.flavor, ["pack", "--manifest", manifest, "--output", output, "--launcher-bin", launcher,
                                   "--key-seed", seed, "--quiet"] + extraArgs, env: env)
    try #require(r.status == 0, "flavor pack failed: \(r.output)")
    return output
}

func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
/// Writes with O_CLOEXEC, so children forked by other test threads do not inherit the write fd
/// (an inherited write fd makes exec of this file fail with ETXTBSY).
func writeBytes(_ path: String, _ b: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno)) }
    defer { close(fd) }
    var done = 0
    while done < b.count {
        let n = b.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        guard n > 0 else { throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno)) }
        done += n
    }
}

func le64(_ b: [UInt8], _ o: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) } }
func le32(_ b: [UInt8], _ o: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) } }

/// A value shared between test threads behind a lock.
final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func update(_ f: (inout T) -> Void) { lock.lock(); f(&value); lock.unlock() }
}

/// posix_spawn without Foundation's Process (whose waitUntilExit can miss a SIGKILLed child).
func spawnRaw(_ exe: String, _ args: [String], env: [String: String]) throws -> pid_t {
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    let argv = ([exe] + args).map { strdup($0) } + [nil]
    let envp = e.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var pid: pid_t = 0
    var rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
    for _ in 0..<200 where rc == ETXTBSY {  // see startRetryingTextBusy
        sched_yield()
        rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
    }
    try #require(rc == 0, "posix_spawn \(exe): \(rc)")
    return pid
}

/// waitpid for one child: (exited normally, code or signal).
func waitRaw(_ pid: pid_t) -> (exited: Bool, value: Int32) {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return status & 0x7f == 0 ? (true, (status >> 8) & 0xff) : (false, status & 0x7f)
}
