import Foundation

/// `flavor-bench`: the benchmark harness (docs/PERFORMANCE.md).
///
/// The entry point only hands over to `runMain`, a plain nonisolated function in another file:
/// closures built there are not main-actor isolated, so they may run on worker threads.
@main
struct FlavorBenchEntry {
    static func main() {
        exit(runMain(Array(CommandLine.arguments.dropFirst())))
    }
}
