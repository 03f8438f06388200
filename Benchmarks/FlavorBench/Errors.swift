import Foundation

/// Every failure the harness reports: one line that names the action and the object.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Exit codes of `flavor-bench`.
enum Exit {
    static let ok: Int32 = 0
    /// `gate`: a metric regressed beyond its threshold.
    static let regression: Int32 = 1
    /// Bad usage, a missing tool, a failed measured command, unreadable input.
    static let error: Int32 = 2
}

/// Writes one line to stderr.
func warn(_ s: String) {
    try? FileHandle.standardError.write(contentsOf: Data((s + "\n").utf8))
}

/// Progress output: stderr, so stdout stays for tables and JSON.
func progress(_ s: String) {
    try? FileHandle.standardError.write(contentsOf: Data(("flavor-bench: " + s + "\n").utf8))
}
