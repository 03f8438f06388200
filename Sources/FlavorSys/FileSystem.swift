import FlavorFormat
#if canImport(Glibc)
import Glibc
#endif

// Invariants: every function here takes plain values (fds as Int32, paths as String) and
// returns owned values; no pointer escapes a call. Callers own the descriptors they open.

public enum FS {
    public static func open(_ path: String, _ flags: Int32, _ mode: UInt32 = 0o644) throws(SysError) -> Int32 {
        try sys("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode_t(mode)) }
    }

    public static func openAt(_ dir: Int32, _ path: String, _ flags: Int32, _ mode: UInt32 = 0o644) throws(SysError) -> Int32 {
        try sys("openat", path) { Glibc.openat(dir, path, flags | O_CLOEXEC, mode_t(mode)) }
    }

    /// `close` is never retried: on Linux the fd is gone even when it reports EINTR. For a
    /// descriptor given up on an error path; a file being published uses `closeChecked`.
    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// Closes `fd` (exactly once) and reports a failure: on NFS and some FUSE file systems a
    /// delayed write error (EIO, ENOSPC, EDQUOT) surfaces only here. EINTR is not a failure:
    /// the descriptor is closed and Linux has already dealt with the data.
    public static func closeChecked(_ fd: Int32, path: String) throws(SysError) {
        if Glibc.close(fd) != 0 && Glibc.errno != EINTR { throw SysError(op: "close", path: path, errno: Glibc.errno) }
    }

    public static func fchmod(_ fd: Int32, _ mode: UInt32, path: String) throws(SysError) {
        _ = try sys("fchmod", path) { Glibc.fchmod(fd, mode_t(mode)) }
    }

    /// The process umask. Reading it means setting it: call once, before threads create files.
    public static func processUmask() -> UInt32 {
        let m = Glibc.umask(0o022)
        _ = Glibc.umask(m)
        return UInt32(m)
    }

    /// Writes all of `buf`, looping over short writes.
    public static func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer, path: String = "") throws(SysError) {
        var done = 0
        while done < buf.count {
            let n = try sys("write", path) { Glibc.write(fd, buf.baseAddress! + done, buf.count - done) }
            done += n
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String = "") throws(SysError) {
        let r: Result<Void, SysError> = bytes.withUnsafeBytes { raw in
            do throws(SysError) { try writeAll(fd, raw, path: path); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
    }

    public static func pwriteAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer, at offset: Int, path: String = "") throws(SysError) {
        var done = 0
        while done < buf.count {
            let n = try sys("pwrite", path) { Glibc.pwrite(fd, buf.baseAddress! + done, buf.count - done, off_t(offset + done)) }
            done += n
        }
    }

    /// Reads `buf.count` bytes at `offset`; a file that ends first is an error (`why` says what that means).
    public static func preadAll(_ fd: Int32, into buf: UnsafeMutableRawBufferPointer, at offset: Int, path: String,
                                shortMeans why: String) throws(SysError) {
        var done = 0
        while done < buf.count {
            let n = try sys("pread", path) { Glibc.pread(fd, buf.baseAddress! + done, buf.count - done, off_t(offset + done)) }
            if n == 0 { throw SysError(op: "read (\(why))", path: path, errno: EIO) }
            done += n
        }
    }

    /// Reads until `buf` is full or the file ends; returns the byte count. With `enough`, it stops
    /// as soon as that many bytes arrived: a caller that expects n bytes asks for n + 1 to notice a
    /// file that grew, and a read returning exactly n of them has already met the end of the file,
    /// so the confirming read of 0 bytes (one syscall per file when packing) is skipped.
    public static func readFully(_ fd: Int32, into buf: UnsafeMutableRawBufferPointer, enough: Int? = nil, path: String = "") throws(SysError) -> Int {
        var done = 0
        let stop = min(enough ?? buf.count, buf.count)
        repeat {
            guard done < buf.count else { break }
            let n = try sys("read", path) { Glibc.read(fd, buf.baseAddress! + done, buf.count - done) }
            if n == 0 { break }
            done += n
        } while done < stop
        return done
    }

    /// Reads a whole (small) file; `limit` guards against reading something unexpectedly large.
    public static func readFile(_ path: String, limit: Int = 64 << 20) throws(SysError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let r: Result<Int, SysError> = chunk.withUnsafeMutableBytes { raw in
                do throws(SysError) { return .success(try sys("read", path) { Glibc.read(fd, raw.baseAddress!, raw.count) }) }
                catch { return .failure(error) }
            }
            let n = try r.get()
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw SysError(op: "read", path: path, errno: EFBIG) }
        }
        return out
    }

    /// Writes `bytes` to `path` through a temporary name and rename, so readers never see half a file.
    /// The descriptor is closed exactly once on every path, and a failed write, fchmod or close
    /// leaves neither `path` changed nor the temporary behind.
    public static func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o644) throws(SysError) {
        let tmp = path + ".tmp.\(getpid())"
        let fd = try open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        var open = true
        do throws(SysError) {
            try writeAll(fd, bytes, path: tmp)
            try fchmod(fd, mode, path: tmp)
            open = false
            try closeChecked(fd, path: tmp)
            try rename(tmp, path)
        } catch {
            if open { close(fd) }
            _ = Glibc.unlink(tmp)
            throw error
        }
    }

    public static func rename(_ from: String, _ to: String) throws(SysError) {
        _ = try sys("rename", from) { Glibc.rename(from, to) }
    }

    public static func unlink(_ path: String) throws(SysError) {
        _ = try sys("unlink", path) { Glibc.unlink(path) }
    }

    public static func chmod(_ path: String, _ mode: UInt32) throws(SysError) {
        _ = try sys("chmod", path) { Glibc.chmod(path, mode_t(mode)) }
    }

    /// mkdir that tolerates an existing directory.
    public static func mkdir(_ path: String, _ mode: UInt32 = 0o755) throws(SysError) {
        if Glibc.mkdir(path, mode_t(mode)) == 0 { return }
        let e = Glibc.errno
        if e == EEXIST, isDirectory(path) { return }
        throw SysError(op: "mkdir", path: path, errno: e)
    }

    /// mkdir -p.
    public static func mkdirs(_ path: String, _ mode: UInt32 = 0o755) throws(SysError) {
        if isDirectory(path) { return }
        var prefix = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += (prefix.isEmpty && !path.hasPrefix("/") ? "" : "/") + part
            if !isDirectory(prefix) { try mkdir(prefix, mode) }
        }
    }

    public struct Status: Sendable {
        public var mode: UInt32
        public var size: Int
        public var mtime: Int64
        public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
        public var isRegular: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
        public var isSymlink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }
        public var permissions: UInt32 { mode & 0o7777 }
    }

    public static func lstat(_ path: String) throws(SysError) -> Status {
        var st = stat()
        _ = try sys("lstat", path) { Glibc.lstat(path, &st) }
        return Status(mode: UInt32(st.st_mode), size: Int(st.st_size), mtime: Int64(st.st_mtim.tv_sec))
    }

    public static func statFollowing(_ path: String) throws(SysError) -> Status {
        var st = Glibc.stat()
        _ = try sys("stat", path) { stat(path, &st) }
        return Status(mode: UInt32(st.st_mode), size: Int(st.st_size), mtime: Int64(st.st_mtim.tv_sec))
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var st = Glibc.stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` is on a file system mounted noexec.
    public static func isOnNoexecMount(_ path: String) -> Bool {
        var s = Glibc.statvfs()
        return statvfs(path, &s) == 0 && s.f_flag & 8 != 0   // ST_NOEXEC (an enum glibc does not export to Swift)
    }

    public static func readLink(_ path: String) throws(SysError) -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = try sys("readlink", path) { Glibc.readlink(path, &buf, buf.count - 1) }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func symlink(target: String, at path: String) throws(SysError) {
        _ = try sys("symlink", path) { Glibc.symlink(target, path) }
    }

    public static func link(_ existing: String, _ new: String) throws(SysError) {
        _ = try sys("link", new) { Glibc.link(existing, new) }
    }

    /// Calls `body` with the open directory's descriptor and each entry name but "." and "..".
    private static func forEachEntry(_ path: String, _ body: (Int32, String) throws(SysError) -> Void) throws(SysError) {
        guard let d = opendir(path) else { throw SysError(op: "opendir", path: path, errno: Glibc.errno) }
        defer { closedir(d) }
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: ent.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { try body(dirfd(d), name) }
        }
    }

    /// Names in a directory, excluding "." and "..", sorted by UTF-8 bytes for determinism.
    public static func listDirectory(_ path: String) throws(SysError) -> [String] {
        var names = [String]()
        try forEachEntry(path) { _, name in names.append(name) }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return names
    }

    /// Names and lstat results of a directory's entries, sorted like `listDirectory`. Each entry
    /// is stat'ed relative to the open directory, so the kernel walks one path component, not
    /// the whole path (packing a tree stats every entry).
    public struct Entry: Sendable {
        public var name: String
        public var status: Status
    }

    public static func listDirectoryWithStatus(_ path: String) throws(SysError) -> [Entry] {
        var out = [Entry]()
        try forEachEntry(path) { (fd, name) throws(SysError) in
            var st = Glibc.stat()
            _ = try sys("lstat", path + "/" + name) { fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) }
            out.append(Entry(name: name, status: Status(mode: UInt32(st.st_mode), size: Int(st.st_size), mtime: Int64(st.st_mtim.tv_sec))))
        }
        out.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return out
    }

    /// rm -rf that does not follow symlinks; missing path is fine.
    public static func removeTree(_ path: String) throws(SysError) {
        var st = Glibc.stat()
        if Glibc.lstat(path, &st) != 0 {
            if Glibc.errno == ENOENT { return }
            throw SysError(op: "lstat", path: path, errno: Glibc.errno)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            // A directory we may not list (mode 0) is made listable first.
            if Glibc.access(path, R_OK | X_OK) != 0 { _ = Glibc.chmod(path, 0o700) }
            for name in try listDirectory(path) { try removeTree(path + "/" + name) }
            _ = try sys("rmdir", path) { Glibc.rmdir(path) }
        } else {
            _ = try sys("unlink", path) { Glibc.unlink(path) }
        }
    }

    public static func fsync(_ fd: Int32, path: String) throws(SysError) {
        _ = try sys("fsync", path) { Glibc.fsync(fd) }
    }

    public static func ftruncate(_ fd: Int32, _ size: Int, path: String = "") throws(SysError) {
        _ = try sys("ftruncate", path) { Glibc.ftruncate(fd, off_t(size)) }
    }

    public static func fileSize(_ fd: Int32, path: String = "") throws(SysError) -> Int {
        var st = Glibc.stat()
        _ = try sys("fstat", path) { Glibc.fstat(fd, &st) }
        return Int(st.st_size)
    }

    public static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return "." }
        return cStringToString(buf)
    }
}

/// A NUL-terminated C buffer as a String (UTF-8, cut at the first NUL).
public func cStringToString(_ buf: [CChar]) -> String {
    let end = buf.firstIndex(of: 0) ?? buf.count
    return String(decoding: buf[0..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A few environment variables, looked up by name (see `Env.subset`).
public struct EnvSubset: Sendable {
    var names = [String](), values = [String]()   // two arrays: no tuple-array metadata at launch
    public func get(_ name: String) -> String? { names.firstIndex(of: name).map { values[$0] } }
}

public enum Env {
    public static func get(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        return String(cString: p)
    }

    /// The variables whose "NAME=" starts with one of `prefixes`, from one pass over environ;
    /// Strings are built only for those (the launcher reads its settings on every start).
    /// (Four prefixes as parameters, not an array: an array literal of StaticString costs a
    /// generic metadata instantiation on every start.)
    public static func subset(_ a: StaticString, _ b: StaticString, _ c: StaticString, _ d: StaticString) -> EnvSubset {
        var out = EnvSubset()
        var p = environ
        while let entry = p.pointee {
            p += 1
            func starts(_ prefix: StaticString) -> Bool {
                prefix.withUTF8Buffer { pb in
                    var i = 0
                    while i < pb.count, UInt8(bitPattern: entry[i]) == pb[i] { i += 1 }
                    return i == pb.count
                }
            }
            let matched = starts(a) || starts(b) || starts(c) || starts(d)
            guard matched, let eq = strchr(entry, 0x3D) else { continue }
            let nameLength = entry.distance(to: eq)
            let name = String(decoding: UnsafeRawBufferPointer(start: entry, count: nameLength), as: UTF8.self)
            guard !out.names.contains(name) else { continue }   // getenv: the first one wins
            out.names.append(name)
            out.values.append(String(cString: eq + 1))
        }
        return out
    }

    /// The whole environment as NAME=value strings, in environ order.
    public static func all() -> [String] {
        var out = [String]()
        var p = environ
        while let entry = p.pointee {
            out.append(String(cString: entry))
            p += 1
        }
        return out
    }
}

public enum Process {
    public static var id: Int32 { getpid() }

    public static func isAlive(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || Glibc.errno == EPERM)
    }

    public static func exit(_ code: Int32) -> Never { Glibc.exit(code) }

    /// Writes to stderr without buffering (no Foundation, no stdio locks).
    public static func printError(_ s: String) {
        var line = s
        if !line.hasSuffix("\n") { line += "\n" }
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress!, $0.count) }
    }

    public static func printOut(_ s: String) {
        var bytes = Array(s.utf8)
        if bytes.isEmpty { return }
        var done = 0
        bytes.withUnsafeMutableBytes { raw in
            while done < raw.count {
                let n = Glibc.write(1, raw.baseAddress! + done, raw.count - done)
                if n <= 0 { if n < 0 && Glibc.errno == EINTR { continue }; return }
                done += n
            }
        }
    }
}

extension FS {
    /// Writes a whole window (e.g. a slice of a mapped package) to `fd`.
    public static func writeAll(_ fd: Int32, _ data: ByteReader, path: String = "") throws(SysError) {
        try data.withUnsafeBytes { (raw) throws(SysError) in try writeAll(fd, raw, path: path) }
    }

    public static func pwriteAll(_ fd: Int32, _ data: ByteReader, at offset: Int, path: String = "") throws(SysError) {
        try data.withUnsafeBytes { (raw) throws(SysError) in try pwriteAll(fd, raw, at: offset, path: path) }
    }

    /// Reads until `count` bytes landed in `buffer` at `offset` or the file ended; returns the byte count.
    public static func readFully(_ fd: Int32, into buffer: inout [UInt8], at offset: Int, count: Int, enough: Int? = nil,
                                 path: String = "") throws(SysError) -> Int {
        precondition(offset >= 0 && count >= 0 && offset + count <= buffer.count, "readFully: range outside the buffer")
        return try buffer.withMutableBytes { (raw) throws(SysError) -> Int in
            try readFully(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[offset..<offset + count]), enough: enough, path: path)
        }
    }
}
