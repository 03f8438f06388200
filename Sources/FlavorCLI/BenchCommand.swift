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
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let dir: String
        if let d = directory { dir = d }
        else if let c = corpus { dir = (Env.get("FLAVOR_CORPORA_DIR") ?? "corpora/.cache") + "/" + c }
        else { throw ValidationError("give a DIRECTORY or --corpus NAME") }
        guard FS.isDirectory(dir) else { fail("\(dir) is not a directory\(corpus != nil ? " (materialise the corpus with scripts/bench first)" : "")") }
        var specs = [CodecBench.Codec]()
        for t in codecs.split(separator: ",") {
            guard let c = CodecBench.Codec(String(t)) else { throw ValidationError("unknown codec \"\(t)\" (gzip:1-12, zstd:1-22, none)") }
            specs.append(c)
        }
        let counts = workers.map { $0.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } }
            ?? Array(Set([1, WorkerPool.coreCount])).sorted()
        let rows: [CodecBench.Row]
        do {
            rows = try CodecBench.run(directory: dir, codecs: specs, workers: counts, repeats: repeats) { msg in
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
}
