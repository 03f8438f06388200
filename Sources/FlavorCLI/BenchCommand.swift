import ArgumentParser
import FlavorEngine
import FlavorFormat
import FlavorSys

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Compare codecs on your own data: ratio, pack MB/s and unpack MB/s per codec and worker count.",
        discussion: """
        The directory is framed into the same 8 MiB tar shards `flavor pack` makes; each codec then \
        compresses and decompresses them on N worker threads (best of --repeats; no disk writes in the \
        timings). MB/s are of uncompressed tar input. zstd packages need flavor-launcher: upstream 0.5.4 \
        launchers decode only tar and gzip. For whole-product figures (launch latency, upstream side by \
        side) use the benchmark harness (scripts/bench).
        """)

    @Argument(help: "Directory to measure (or use --corpus).") var directory: String?
    @Option(help: "A materialised corpus by name, from corpora/.cache/NAME (or $FLAVOR_CORPORA_DIR/NAME).") var corpus: String?
    @Option(help: "Comma-separated codecs: gzip:LEVEL (1-12), zstd:LEVEL (1-22), none.") var codecs = "gzip:1,gzip:6,gzip:9,gzip:12,zstd:3,zstd:19,none"
    @Option(help: "Comma-separated worker counts.") var workers: String?
    @Option(help: "Runs per cell; the best is reported.") var repeats = 3
    @Flag(help: "Instead of codecs: time extraction of DIR with plain syscalls and with io_uring on the cache's file system, and save the faster as this host's FLAVOR_IO=auto choice.") var calibrateIO = false
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let dir: String
        if let d = directory { dir = d }
        else if let c = corpus { dir = (processSettings.corporaDir ?? "corpora/.cache") + "/" + c }
        else { throw ValidationError("give a DIRECTORY or --corpus NAME") }
        guard FS.isDirectory(dir) else { fail("\(dir) is not a directory\(corpus != nil ? " (materialise the corpus with scripts/bench first)" : "")") }
        if calibrateIO { return try calibrate(dir) }
        var specs = [CodecBench.Codec]()
        for t in codecs.split(separator: ",") {
            guard let c = CodecBench.Codec(String(t)) else { throw ValidationError("unknown codec \"\(t)\" (gzip:1-12, zstd:1-22, none)") }
            specs.append(c)
        }
        let counts = workers.map { $0.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } }
            ?? Array(Set([1, WorkerPool.coreCount])).sorted()
        let rows: [CodecBench.Row]
        do {
            rows = try CodecBench.run(directory: dir, codecs: specs, workers: counts, repeats: repeats, settings: processSettings) { msg in
                if !global.quiet && !global.json { Process.printError("measuring \(msg)") }
            }
        } catch { fail(error.message) }
        if global.json {
            let out = rows.map { r in
                JSONValue.object([("codec", .string(r.codec)), ("workers", .int(Int64(r.workers))),
                                  ("input_bytes", .int(Int64(r.inputBytes))), ("stored_bytes", .int(Int64(r.storedBytes))),
                                  ("ratio", .double((r.ratio * 10000).rounded() / 10000)),
                                  ("pack_mb_s", .double((r.packMBps * 10).rounded() / 10)),
                                  ("unpack_mb_s", .double((r.unpackMBps * 10).rounded() / 10))])
            }
            printLine(JSONValue.object([("directory", .string(dir)), ("rows", .array(out))]).serializedString(pretty: true))
            return
        }
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        printLine("\(pad("codec", 9)) \(pad("workers", 7)) \(pad("ratio", 7)) \(pad("stored MB", 10)) \(pad("pack MB/s", 10)) \(pad("unpack MB/s", 12))")
        for r in rows {
            let ratio = String(Double(Int(r.ratio * 1000)) / 1000)
            printLine("\(pad(r.codec, 9)) \(pad(String(r.workers), 7)) \(pad(ratio, 7)) \(pad(String(Int(Double(r.storedBytes) / 1e6 * 10) / 10), 10)) \(pad(String(Int(r.packMBps)), 10)) \(pad(String(Int(r.unpackMBps)), 12))")
        }
        if let first = rows.first { printLine("input: \(first.inputBytes) bytes of tar from \(dir)") }
    }

    func calibrate(_ dir: String) throws {
        let settings = processSettings
        guard let launcher = defaultLauncherPath() ?? Exec.selfPath() else { fail("cannot find a launcher to pack with") }
        let r: IOCalibration.Result
        do { r = try IOCalibration.run(directory: dir, launcher: launcher, settings: settings, repeats: max(3, repeats)) } catch { fail(error.message) }
        let file = WriteBackend.preferenceFile(settings)
        do { try FS.writeFileAtomically(file, Array((r.preferred.rawValue + "\n").utf8), mode: 0o644) } catch { fail("\(error)") }
        if global.json {
            printLine(JSONValue.object([("files", .int(Int64(r.files))), ("posix_seconds", .double(r.posixSeconds)),
                                        ("uring_seconds", r.uringSeconds.map { .double($0) } ?? .null),
                                        ("preferred", .string(r.preferred.rawValue)), ("saved_to", .string(file))]).serializedString(pretty: true))
        } else {
            let uring = r.uringSeconds.map { "\(Int($0 * 1000)) ms" } ?? "unavailable (\(WriteBackend.uringUnavailableReason ?? "?"))"
            printLine("extract \(r.files) files: posix \(Int(r.posixSeconds * 1000)) ms, io_uring \(uring) (median)\nFLAVOR_IO=auto will use \(r.preferred.rawValue) on this host (saved to \(file))")
        }
    }
}
