#if canImport(Glibc)
import Glibc
#endif
import FlavorFormat
import Synchronization

// Invariants: the spool file is unlinked as soon as it is created, so it vanishes with its
// descriptor whatever happens; ranges are reserved under a lock and written outside it, so
// workers append concurrently; nothing reads a range before its append returned.

/// A nameless temporary file that a big pack appends its encoded slots to, so that memory holds
/// only the slots being encoded; the package is then assembled from it.
public final class Spool: Sendable {
    private let fd: Int32
    private let path: String
    private let end = Mutex(0)

    /// A spool beside `siblingOf` (same file system as the package it will be copied into).
    public init(siblingOf target: String) throws(SysError) {
        let dir = target.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(target[..<$0]) } ?? "."
        var template = Array(((dir.isEmpty ? "" : dir) + "/.flavor-spool-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        let name = cStringToString(template)
        guard fd >= 0 else { throw SysError(op: "mkstemp", path: name, errno: Glibc.errno) }
        _ = Glibc.unlink(name)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        self.fd = fd
        path = name
    }

    deinit { FS.close(fd) }

    /// Appends `pieces` one after the other; returns the offset of the first byte.
    public func append(_ pieces: [[UInt8]]) throws(SysError) -> Int {
        let total = pieces.reduce(0) { $0 + $1.count }
        let start = end.withLock { e in defer { e += total }; return e }
        var at = start
        for p in pieces {
            try p.withBytes { (raw) throws(SysError) in try FS.pwriteAll(fd, raw, at: at, path: path) }
            at += p.count
        }
        return start
    }

    /// Writes `count` spooled bytes from `offset` to `out` at its current position.
    public func copy(_ offset: Int, count: Int, to out: Int32, path outPath: String) throws(SysError) {
        var buffer = [UInt8](repeating: 0, count: min(count, 4 << 20))
        var done = 0
        while done < count {
            let piece = min(buffer.count, count - done)
            let from = offset + done, source = path
            try buffer.withMutableBytes { (raw) throws(SysError) in
                let chunk = UnsafeMutableRawBufferPointer(rebasing: raw[0..<piece])
                try FS.preadAll(fd, into: chunk, at: from, path: source, shortMeans: "spool ends early")
                try FS.writeAll(out, UnsafeRawBufferPointer(chunk), path: outPath)
            }
            done += piece
        }
    }
}
