import Foundation

/// What one `flavor-bench run` (or `gate`) measured: written as perf-reports/<date>-<commit>.json.
struct Report: Codable, Sendable {
    var schema = "flavor-bench-report/1"
    var kind: String
    var profile: String
    var started: String
    var durationSeconds: Double
    var commit: String
    var dirty: Bool
    var command: String
    var machine: Machine
    var tools: [Tool]
    /// FLAVOR_* variables the measured commands inherited from the harness's environment.
    var environment: [String: String]
    var workDir: String
    var workFilesystem: String
    var settings: Settings
    var corpora: [CorpusResult]
    var notes: [String]
}

struct Settings: Codable, Sendable {
    var packReps: Int
    var unpackReps: Int
    var coldReps: Int
    var warmReps: Int
    var warmups: Int
    var warmWarmups: Int
    var copyFloorThreads: Int
    var pigzThreads: Int
    var upstream: Bool
    var ioBackends: Bool
}

struct Machine: Codable, Sendable {
    var nproc: Int
    var cpuModel: String
    var kernel: String
    var os: String
    var memoryTotalKiB: Int
    var loadAverageStart: String
    var loadAverageEnd: String
}

struct Tool: Codable, Sendable {
    var name: String
    var path: String
    var version: String
    var sizeBytes: Int64?
}

struct CorpusResult: Codable, Sendable {
    var name: String
    var origin: String
    var digest: String
    var files: Int
    var dirs: Int
    var bytes: Int64
    var series: [Series]
    var sizes: [SizeEntry]
    var ratios: [Ratio]
    var targets: [Target]
    var checks: [String]
    /// phase → CPU that other processes used while it ran, as a fraction of one core (`CPUMeter`).
    var otherCPU: [String: Double]? = nil

    func series(_ id: String) -> Series? { series.first { $0.id == id } }
    func size(_ id: String) -> Int64? { sizes.first { $0.id == id }?.bytes }
    func ratio(_ id: String) -> Ratio? { ratios.first { $0.id == id } }
}

/// All samples of one command in one phase, e.g. `cold/ours` or `pack/tar_czf`.
struct Series: Codable, Sendable {
    var id: String
    var phase: String
    var label: String
    var command: String
    var samples: [Sample]
    var wall: Stats
    /// Peak RSS in KiB of the dedicated RSS runs (GNU time, see `Spawner.peakRSS`); nil when not measured.
    var rssSamplesKiB: [Int]
    var rssKiB: Stats?
    /// Input MB (10^6 bytes) per second at the median, for pack/unpack/cold.
    var mbPerSecond: Double?
    /// Corpus files per second at the median, for unpack/cold.
    var filesPerSecond: Double?

    init(id: String, phase: String, label: String, command: String, samples: [Sample], rss: [Int], bytes: Int64?, files: Int?) {
        self.id = id
        self.phase = phase
        self.label = label
        self.command = command
        self.samples = samples
        wall = Stats(samples.map(\.wall))
        rssSamplesKiB = rss
        rssKiB = rss.isEmpty ? nil : Stats(rss.map(Double.init))
        if let bytes, wall.median > 0 { mbPerSecond = Double(bytes) / 1e6 / wall.median }
        if let files, wall.median > 0 { filesPerSecond = Double(files) / wall.median }
    }
}

struct SizeEntry: Codable, Sendable {
    var id: String
    var label: String
    var bytes: Int64
}

/// numerator ÷ denominator of two medians measured in the same run (< 1: ours is faster/smaller).
struct Ratio: Codable, Sendable {
    var id: String
    var label: String
    var numerator: String
    var denominator: String
    var value: Double
}

/// One of the issue-4 targets, checked on this run's numbers.
struct Target: Codable, Sendable {
    var id: String
    var label: String
    var measured: String
    var goal: String
    var met: Bool
}

extension Report {
    func write(json path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { try enc.encode(self).write(to: URL(fileURLWithPath: path)) }
        catch { throw BenchError("\(path): cannot write report: \(error.localizedDescription)") }
    }

    static func read(_ path: String) throws -> Report {
        guard let d = FileManager.default.contents(atPath: path) else { throw BenchError("\(path): cannot read") }
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try dec.decode(Report.self, from: d) } catch { throw BenchError("\(path): not a flavor-bench report: \(error)") }
    }
}
