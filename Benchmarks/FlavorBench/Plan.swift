import Foundation

/// The binaries under test and the reference tools, resolved once per run.
struct Toolset {
    var flavor: String
    var launcher: String
    var rsBuilder: String?
    var rsLauncher: String?
    var goBuilder: String?
    var goLauncher: String?
    var tar: String
    var gzip: String
    var pigz: String?
    var bash: String
    /// GNU time, for peak-RSS runs (nil: RSS not measured).
    var time: String?
    /// This executable (for `copy-floor`).
    var bench: String

    var upstream: Bool { rsBuilder != nil }

    enum UpstreamMode: String { case auto, off, require }

    static func resolve(flavorBin: String, upstreamBin: String?, upstream: UpstreamMode, pigz usePigz: Bool) throws -> Toolset {
        let fb = URL(fileURLWithPath: flavorBin).standardizedFileURL.path
        // The launcher `flavor pack` would pick by itself: the Embedded Swift build when present.
        let embedded = fb + "/flavor-launcher-embedded"
        let flavor = fb + "/flavor", launcher = FileManager.default.isExecutableFile(atPath: embedded) ? embedded : fb + "/flavor-launcher"
        for p in [flavor, launcher] where !FileManager.default.isExecutableFile(atPath: p) {
            throw BenchError("\(p) not found or not executable: build first (swift build -c release) or pass --flavor-bin DIR")
        }
        func need(_ n: String) throws -> String {
            guard let p = which(n) else { throw BenchError("\(n) not found on PATH (scripts/bench installs it)") }
            return p
        }
        let self_ = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var t = Toolset(flavor: flavor, launcher: launcher, tar: try need("tar"), gzip: try need("gzip"),
                        pigz: usePigz ? which("pigz") : nil, bash: try need("bash"), bench: self_)
        if let tm = which("time"), (try? capture([tm, "--version"]))?.out.contains("GNU") == true { t.time = tm }
        else { progress("GNU time (/usr/bin/time, Debian package 'time') not found: peak RSS is not measured") }
        if upstream != .off {
            let dir = upstreamBin ?? ""
            let names = ["flavor-rs-builder", "flavor-rs-launcher", "flavor-go-builder", "flavor-go-launcher"]
            let missing = names.filter { !FileManager.default.isExecutableFile(atPath: dir + "/" + $0) }
            if missing.isEmpty {
                t.rsBuilder = dir + "/flavor-rs-builder"; t.rsLauncher = dir + "/flavor-rs-launcher"
                t.goBuilder = dir + "/flavor-go-builder"; t.goLauncher = dir + "/flavor-go-launcher"
            } else if upstream == .require {
                throw BenchError("upstream 0.5.4 binaries missing in \(dir.isEmpty ? "(no --upstream-bin)" : dir): \(missing.joined(separator: ", ")); run scripts/fetch-upstream")
            } else {
                progress("upstream 0.5.4 binaries not found in \(dir) (run scripts/fetch-upstream): measuring without them")
            }
        }
        return t
    }
}

/// How much to measure.
struct Plan {
    var profile: String
    var packReps: Int
    var unpackReps: Int
    var coldReps: Int
    var warmReps: Int
    var warmups: Int
    var warmWarmups: Int
    var ioBackends: Bool
    var verify: Bool
    /// Extra untimed runs per command under GNU time for peak RSS: launches, and pack/unpack.
    var rssRunsLaunch = 3
    var rssRunsOther = 1
    var copyThreads: Int
    var pigzThreads: Int
    /// Gate mode: only the commands the gate's ratios need.
    var gateOnly: Bool

    static func profile(_ name: String) throws -> Plan {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        switch name {
        case "full":
            return Plan(profile: name, packReps: 5, unpackReps: 5, coldReps: 10, warmReps: 60, warmups: 1, warmWarmups: 5,
                        ioBackends: true, verify: true, copyThreads: 2, pigzThreads: cores, gateOnly: false)
        case "quick":
            return Plan(profile: name, packReps: 5, unpackReps: 5, coldReps: 7, warmReps: 60, warmups: 1, warmWarmups: 5,
                        ioBackends: false, verify: true, copyThreads: 2, pigzThreads: cores, gateOnly: true)
        default:
            throw BenchError("unknown profile '\(name)' (full, quick)")
        }
    }

    /// Large corpora get fewer repetitions in the full profile so that it stays well under 30 minutes on
    /// 2 cores; corpora under 1 MB get three times as many in both profiles (their runs take milliseconds,
    /// and process start-up noise needs more samples).
    func scaled(forBytes bytes: Int64, overridden: Bool) -> Plan {
        guard !overridden else { return self }
        var p = self
        if bytes < 1_000_000 {
            p.packReps *= 3; p.unpackReps *= 3; p.coldReps *= 3
        } else if profile == "full", bytes > 50_000_000 {
            p.packReps = 3; p.unpackReps = 5; p.coldReps = 7
        }
        return p
    }
}
