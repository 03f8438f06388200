#if canImport(Glibc)
import Glibc
#endif

// Small helpers for the launcher's warm path, which runs on every start of every package.
// Invariants as in FileSystem.swift: plain values in, owned values out, no pointer escapes.

extension FS {
    /// Reads a file of at most `limit` bytes into one buffer of `limit + 1`; nil if it cannot be
    /// opened or read, or is larger. For tiny marker files (FS.readFile zero-fills 64 KiB first).
    public static func readSmallFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: limit + 1)
        let n: Int = buf.withUnsafeMutableBytes { raw in
            var done = 0
            while done < raw.count {
                let r = Glibc.read(fd, raw.baseAddress! + done, raw.count - done)
                if r < 0 && Glibc.errno == EINTR { continue }
                if r <= 0 { return r < 0 ? -1 : done }
                done += r
            }
            return done
        }
        guard n >= 0, n <= limit else { return nil }
        buf.removeSubrange(n...)
        return buf
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
