#if canImport(Glibc)
import Glibc
#endif

// Small helpers for the launcher's warm path, which runs on every start of every package.
// Invariants as in FileSystem.swift: plain values in, owned values out, no pointer escapes.

extension FS {
    /// Reads a file of at most `limit` bytes as its first `head` bytes and the rest, each into a
    /// buffer of its own size from fstat (so a large limit costs nothing, and the rest needs no copy
    /// out of a larger buffer); nil if it cannot be opened or read, is shorter than `head`, is larger
    /// than `limit`, or changes size meanwhile.
    public static func readSizedFile(_ path: String, limit: Int, head: Int) -> (head: [UInt8], rest: [UInt8])? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard Glibc.fstat(fd, &st) == 0, st.st_size >= head, st.st_size <= limit else { return nil }
        let restCount = Int(st.st_size) - head
        var first = [UInt8](repeating: 0, count: head)
        guard fill(fd, &first) == head else { return nil }
        // One byte more than the rest, so a file that grew meanwhile shows.
        var rest = [UInt8](repeating: 0, count: restCount + 1)
        guard fill(fd, &rest) == restCount else { return nil }
        rest.removeLast()
        return (first, rest)
    }

    /// Reads a file of at most `limit` bytes into one buffer of `limit + 1`; nil if it cannot be
    /// opened or read, or is larger. For tiny marker files (FS.readFile zero-fills 64 KiB first).
    public static func readSmallFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: limit + 1)
        let n = fill(fd, &buf)
        guard n >= 0, n <= limit else { return nil }
        buf.removeSubrange(n...)
        return buf
    }

    /// Reads until `buf` is full or the file ends; the count read, or -1 on an error.
    private static func fill(_ fd: Int32, _ buf: inout [UInt8]) -> Int {
        buf.withUnsafeMutableBytes { raw in
            var done = 0
            while done < raw.count {
                let r = Glibc.read(fd, raw.baseAddress! + done, raw.count - done)
                if r < 0 && Glibc.errno == EINTR { continue }
                if r <= 0 { return r < 0 ? -1 : done }
                done += r
            }
            return done
        }
    }
}

extension Process {
    /// argv[1...] as Strings, read from argv directly: `CommandLine.arguments` builds every
    /// argument through a lazily initialised global first.
    public static func userArguments() -> [String] {
        let argc = Int(CommandLine.argc)
        guard argc > 1 else { return [] }
        var out = [String]()
        out.reserveCapacity(argc - 1)
        for i in 1..<argc {
            guard let p = CommandLine.unsafeArgv[i] else { break }
            out.append(String(cString: p))
        }
        return out
    }
}
