import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Machine {
    static func current() -> Machine {
        var u = utsname()
        uname(&u)
        let release = withUnsafePointer(to: u.release) { $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) } }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let memKiB = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        let osr = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        let os = osr.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { String($0.dropFirst(12)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "unknown"
        return Machine(nproc: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), cpuModel: model, kernel: release, os: os,
                       memoryTotalKiB: memKiB, loadAverageStart: loadAverage(), loadAverageEnd: "")
    }
}

func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "").split(separator: " ").prefix(3).joined(separator: " ")
}

/// Other heavy processes that would make this run noisy (the gate and reports name them).
func busyProcesses() -> [String] {
    let names = ["swift-build", "swift-frontend", "swift-test", "flavor-bench"]
    var found = [String]()
    // Not ourselves, nor whatever started us (swift test, a script).
    var ancestors: Set<Int32> = [getpid()]
    var p = getppid()
    while p > 1, ancestors.insert(p).inserted {
        let stat = (try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8)) ?? ""
        // pid (comm) state ppid …: the comm may contain spaces, so split after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { break }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        p = fields.count > 1 ? Int32(fields[1]) ?? 0 : 0
    }
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(entry), !ancestors.contains(pid) else { continue }
        guard let comm = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8) else { continue }
        let c = comm.trimmingCharacters(in: .whitespacesAndNewlines)
        if names.contains(where: { c.hasPrefix($0.prefix(15)) }) { found.append("\(c)[\(pid)]") }
    }
    return found
}

enum Versions {
    static func firstLine(_ s: String) -> String {
        String(s.split(separator: "\n").first ?? "").trimmingCharacters(in: .whitespaces)
    }

    static func of(_ argv: [String], env: [String: String] = [:]) -> String {
        guard let r = try? capture(argv, env: env) else { return "unavailable" }
        let s = firstLine(r.out.isEmpty ? r.err : r.out)
        return s.isEmpty ? "unavailable (status \(r.status))" : s
    }

    static func tools(_ t: Toolset) -> [Tool] {
        var out = [Tool]()
        func add(_ name: String, _ path: String, _ version: String) {
            out.append(Tool(name: name, path: path, version: version, sizeBytes: fileSize(path)))
        }
        add("flavor", t.flavor, of([t.flavor, "--version"]))
        add((t.launcher as NSString).lastPathComponent, t.launcher,
            (t.launcher.hasSuffix("-embedded") ? "Embedded Swift, static, " : "static, ") + formatBytes(fileSize(t.launcher) ?? 0))
        add("flavor-bench", t.bench, "this harness")
        if let b = t.rsBuilder { add("flavor-rs-builder", b, of([b, "--version"])) }
        if let l = t.rsLauncher { add("flavor-rs-launcher", l, of([l, "version"], env: ["FLAVOR_LAUNCHER_CLI": "1"])) }
        if let b = t.goBuilder { add("flavor-go-builder", b, of([b, "--version"])) }
        if let l = t.goLauncher { add("flavor-go-launcher", l, of([l, "version"], env: ["FLAVOR_LAUNCHER_CLI": "1"])) }
        add("tar", t.tar, of([t.tar, "--version"]))
        add("gzip", t.gzip, of([t.gzip, "--version"]))
        if let p = t.pigz { add("pigz", p, of([p, "--version"])) }
        if let s = which("swift") { add("swift", s, of([s, "--version"])) }
        if let p = which("python3") { add("python3", p, of([p, "--version"])) }
        return out
    }
}

/// The repository's short commit and whether tracked files differ from it.
func gitState(_ repo: String) -> (String, Bool) {
    guard let r = try? capture(["git", "-C", repo, "rev-parse", "--short", "HEAD"]), r.status == 0 else { return ("nogit", false) }
    let dirty = (try? capture(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"]))
        .map { !$0.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } ?? false
    return (r.out.trimmingCharacters(in: .whitespacesAndNewlines), dirty)
}
