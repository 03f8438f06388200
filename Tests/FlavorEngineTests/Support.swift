import Foundation
import Testing
import FlavorSys
@testable import FlavorEngine

/// The umask of this test process, read without changing it (tests run in parallel, and the
/// set-and-restore way of reading it would race with their file creation).
let testUmask: UInt32 = {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Umask:") }
    return line.flatMap { UInt32($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) } ?? 0o022
}()

/// How an extraction writes files, chosen per call: plain syscalls, io_uring, or plain syscalls
/// with every gzip tar slot through the streaming extractor.
enum IOVariant: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case posix, uring, streamed
    var testDescription: String { rawValue }

    var settings: Settings {
        var s = Settings.forTests()
        s.io = self == .uring ? .uring : .posix
        if self == .streamed { s.streamThreshold = 0 }
        return s
    }

    /// io_uring when asked for and this kernel allows it (otherwise plain syscalls, as the launcher).
    var backend: WriteBackend { WriteBackend.resolve(settings, warn: { _ in }) }

    func writer(_ root: String) throws -> TreeWriter {
        try TreeWriter(root: root, backend: backend, fileCreationMask: testUmask)
    }
}

extension Settings {
    /// As if no variable were set, with this process's umask; a test changes what it exercises.
    static func forTests(_ vars: [String: String] = [:]) -> Settings {
        var s = Settings(lookup: { vars[$0] })
        s.fileCreationMask = testUmask
        return s
    }
}

/// A writer with plain syscalls, for tests about paths and modes rather than the backend.
func plainWriter(_ root: String) throws -> TreeWriter { try IOVariant.posix.writer(root) }
