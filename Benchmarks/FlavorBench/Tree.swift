import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One entry of a directory tree, relative to its root.
struct TreeEntry: Sendable {
    enum Kind: String, Sendable { case dir = "d", file = "f", symlink = "l" }
    var kind: Kind
    /// Relative path, components joined by "/".
    var path: String
    /// Permission bits (st_mode & 0o7777).
    var mode: UInt32
    var size: Int64
    var linkTarget: String?
}

/// What a walk of a tree found, and its digests.
struct TreeSummary: Sendable {
    var entries: [TreeEntry]
    var files: Int { entries.lazy.filter { $0.kind == .file }.count }
    var dirs: Int { entries.lazy.filter { $0.kind == .dir }.count }
    var symlinks: Int { entries.lazy.filter { $0.kind == .symlink }.count }
    var bytes: Int64 { entries.reduce(0) { $0 + ($1.kind == .file ? $1.size : 0) } }
}

/// Lists a tree (lstat, no symlinks followed), sorted by the UTF-8 bytes of the relative paths.
func walkTree(_ root: String) throws -> TreeSummary {
    var out = [TreeEntry]()
    var st = stat()
    guard lstat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
        throw BenchError("\(root): not a directory")
    }
    func visit(_ rel: String) throws {
        let abs = rel.isEmpty ? root : root + "/" + rel
        guard let d = opendir(abs) else { throw BenchError("\(abs): cannot list: \(String(cString: strerror(errno)))") }
        defer { closedir(d) }
        var names = [String]()
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        for name in names {
            let r = rel.isEmpty ? name : rel + "/" + name
            let a = root + "/" + r
            var s = stat()
            guard lstat(a, &s) == 0 else { throw BenchError("\(a): \(String(cString: strerror(errno)))") }
            let mode = UInt32(s.st_mode) & 0o7777
            switch s.st_mode & S_IFMT {
            case S_IFDIR:
                out.append(TreeEntry(kind: .dir, path: r, mode: mode, size: 0))
                try visit(r)
            case S_IFREG:
                out.append(TreeEntry(kind: .file, path: r, mode: mode, size: Int64(s.st_size)))
            case S_IFLNK:
                var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(a, &buf, buf.count - 1)
                guard n >= 0 else { throw BenchError("\(a): readlink: \(String(cString: strerror(errno)))") }
                buf[n] = 0
                let target = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                out.append(TreeEntry(kind: .symlink, path: r, mode: mode, size: 0, linkTarget: target))
            default:
                throw BenchError("\(a): not a file, directory or symlink (corpora hold only those)")
            }
        }
    }
    try visit("")
    out.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    return TreeSummary(entries: out)
}

/// Feeds a file's bytes to `sha`.
func hashFile(_ path: String, into sha: inout SHA256, buffer: UnsafeMutableRawBufferPointer) throws -> Int64 {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw BenchError("\(path): cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var total: Int64 = 0
    while true {
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n < 0 {
            if errno == EINTR { continue }
            throw BenchError("\(path): read: \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        sha.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        total += Int64(n)
    }
    return total
}

/// The corpus digest (corpora/README.md): SHA-256 over every entry in sorted path order;
/// a directory contributes `d NUL mode NUL path NUL`, a file `f NUL mode NUL path NUL size NUL bytes`,
/// a symlink `l NUL mode NUL path NUL target NUL`; mode is 4 octal digits.
/// With `modes: false`, directories and modes are left out (`f NUL path NUL size NUL bytes`): the
/// "content digest" that an extracted copy is checked against (launchers may choose directory modes).
func treeDigest(_ root: String, _ summary: TreeSummary, modes: Bool = true) throws -> String {
    var sha = SHA256()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    for e in summary.entries {
        let m = String(format: "%04o", e.mode)
        switch e.kind {
        case .dir:
            if modes { sha.update("d\0\(m)\0\(e.path)\0") }
        case .file:
            sha.update(modes ? "f\0\(m)\0\(e.path)\0\(e.size)\0" : "f\0\(e.path)\0\(e.size)\0")
            let n = try hashFile(root + "/" + e.path, into: &sha, buffer: buffer)
            guard n == e.size else { throw BenchError("\(root)/\(e.path): changed while hashing") }
        case .symlink:
            sha.update("l\0\(modes ? m : "")\0\(e.path)\0\(e.linkTarget ?? "")\0")
        }
    }
    return "sha256:" + sha.hexDigest()
}

/// Sets modes to what the corpus rules say: directories 0755, files 0755 when any execute bit
/// was set and 0644 otherwise (umask-independent digests).
func normaliseModes(_ root: String, _ summary: TreeSummary) throws {
    guard chmod(root, 0o755) == 0 else { throw BenchError("\(root): chmod: \(String(cString: strerror(errno)))") }
    for e in summary.entries where e.kind != .symlink {
        let want: mode_t = e.kind == .dir ? 0o755 : (e.mode & 0o111 != 0 ? 0o755 : 0o644)
        guard chmod(root + "/" + e.path, want) == 0 else {
            throw BenchError("\(root)/\(e.path): chmod: \(String(cString: strerror(errno)))")
        }
    }
}

/// `rm -rf`, with a `chmod -R u+rwX` retry for read-only trees (non-root users).
func removeTree(_ path: String) throws {
    guard FileManager.default.fileExists(atPath: path) || (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil else { return }
    if (try? capture(["rm", "-rf", "--", path]))?.status == 0, !FileManager.default.fileExists(atPath: path) { return }
    _ = try? capture(["chmod", "-R", "u+rwX", "--", path])
    try checked(["rm", "-rf", "--", path], what: "removing \(path)")
}

func makeDirs(_ path: String) throws {
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    catch { throw BenchError("\(path): cannot create directory: \(error.localizedDescription)") }
}

func writeFile(_ path: String, _ text: String, mode: Int = 0o644) throws {
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        _ = chmod(path, mode_t(mode))
    } catch { throw BenchError("\(path): cannot write: \(error.localizedDescription)") }
}

func fileSize(_ path: String) -> Int64? {
    var s = stat()
    return stat(path, &s) == 0 ? Int64(s.st_size) : nil
}

/// Filesystem type of the directory holding `path` (tmpfs, ext4, …), from /proc/self/mountinfo.
func filesystemType(_ path: String) -> String {
    let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? path
    guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return "unknown" }
    var best = (len: -1, type: "unknown")
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ")
        guard let dash = parts.firstIndex(of: "-"), parts.count > dash + 1, parts.count > 4 else { continue }
        let mount = String(parts[4])
        let matches = mount == "/" || real == mount || real.hasPrefix(mount + "/")
        if matches && mount.count > best.len { best = (mount.count, String(parts[dash + 1])) }
    }
    return best.type
}
