import Foundation

/// The executables SwiftPM built for this configuration live next to the test runner.
enum Bench {
    static let buildDir: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // swift-testing may run from inside the .xctest bundle directory.
        if dir.path.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.path
    }()
    static var bench: String { buildDir + "/flavor-bench" }
    static var flavor: String { buildDir + "/flavor" }
    static var missing: [String] {
        [bench, flavor, buildDir + "/flavor-launcher"].filter { !FileManager.default.isExecutableFile(atPath: $0) }
    }
}

struct Result {
    var status: Int32
    var output: String
}

/// Runs a program with stdout and stderr into one file (no pipe to fill up), FLAVOR_* variables
/// of the test runner removed (a test says what it wants).
func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    var e = ProcessInfo.processInfo.environment
    for k in e.keys where k.hasPrefix("FLAVOR_") { e[k] = nil }
    for (k, v) in env { e[k] = v }
    p.environment = e
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("flavor-bench-test-\(UUID().uuidString).log")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: log) }
    let h = try FileHandle(forWritingTo: log)
    p.standardOutput = h
    p.standardError = h
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    try h.close()
    return Result(status: p.terminationStatus, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// A fresh directory, removed when the value goes away.
final class Scratch {
    let path: String
    /// `short`: a name of ~20 characters instead of ~60, for tools that break on long paths.
    init(short: Bool = false) {
        let name = short ? "fbt-\(getpid())-\(UUID().uuidString.prefix(8))" : "flavor-bench-test-\(UUID().uuidString)"
        path = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/rm")
        p.arguments = ["-rf", path]
        try? p.run()
        p.waitUntilExit()
    }
    func sub(_ s: String) -> String { path + "/" + s }
}

/// Compressible text files (words from a small vocabulary), where gzip level 12 costs several times
/// level 6: about `files` × 24 KiB.
func makeTextTree(_ root: String, files: Int, seed: UInt64) throws {
    var state = seed
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    let vocab = (0..<800).map { i in "w\(i)" + String(repeating: "aeiou".map(String.init)[i % 5], count: 1 + i % 6) }
    for f in 0..<files {
        let dir = root + "/d\(f % 8)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var s = ""
        s.reserveCapacity(25_000)
        while s.utf8.count < 24_000 {
            s += vocab[Int(next() % UInt64(vocab.count))]
            s += next() % 9 == 0 ? ".\n" : " "
        }
        try Data(s.utf8).write(to: URL(fileURLWithPath: dir + "/f\(f).txt"))
    }
}
