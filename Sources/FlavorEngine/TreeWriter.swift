import FlavorFormat
import FlavorRing
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

/// Writes files and tar members under one root directory, refusing anything that would land
/// outside it: absolute paths, `..`, writes through symlinks (ours or pre-existing), and link
/// targets that escape. Files are created with O_NOFOLLOW so a final-component symlink is never
/// followed either.
public final class TreeWriter {
    public let root: String
    private var checkedDirs: Set<String> = [""]
    private var symlinks: Set<String> = []
    /// Every non-directory member placed so far: a second member of the same name is refused,
    /// since one archive would then mean two trees (tar readers differ on which one wins).
    private var placed: Set<String> = []
    private var deferredDirModes: [(String, UInt32)] = []
    /// Parent directory of the last file whose parents were checked (see prepareParents).
    private var lastParent: Substring?
    public private(set) var filesWritten = 0
    public private(set) var bytesWritten = 0
    /// io_uring batcher when the uring backend is in use; file data handed to it must stay
    /// alive until `flush()` (the extractor flushes before the decoded buffer goes away).
    /// Set up only once `ringAfterFiles` files were written with plain syscalls: a ring (and the
    /// kernel's io-wq threads behind it) costs ~0.3 ms, more than it saves on a handful of files.
    private var ring: RingFileWriter?
    private var wantsRing: Bool
    static let ringAfterFiles = 16
    private var pendingPaths: [String] = []
    /// The process umask (`Settings.fileCreationMask`): what O_CREAT takes from a mode.
    private let umask: UInt32

    public init(root: String, backend: WriteBackend, fileCreationMask: UInt32) throws(EngineError) {
        self.root = root
        umask = fileCreationMask
        ring = nil
        wantsRing = backend == .uring
        do { try FS.mkdirs(root, 0o700) } catch { throw .sys(error) }
    }

    /// Waits for queued io_uring writes; throws the first failure with its path.
    public func flush() throws(EngineError) {
        guard let ring else { return }
        defer { pendingPaths.removeAll(keepingCapacity: true) }
        if let f = ring.flush() {
            let path = f.tag < pendingPaths.count ? pendingPaths[f.tag] : root
            throw EngineError(.extraction, "write \(path): \(f.reason)")
        }
    }

    /// Normalised relative path, or nil if it is absolute, empty, has a NUL, or climbs with `..`.
    public static func safeRelative(_ path: String) -> String? {
        isPlainRelative(path) ? path : normalizedRelative(path)
    }

    static func normalizedRelative(_ path: String) -> String? {
        if path.hasPrefix("/") || path.utf8.contains(0) { return nil }
        var parts = [Substring]()
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { return nil }
            parts.append(c)
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    /// Already normal: no leading, trailing or doubled "/", no "." or ".." component, no NUL.
    /// Nearly every tar member is, and this check costs one pass over the bytes.
    static func isPlainRelative(_ path: String) -> Bool {
        var prev: UInt8 = UInt8(ascii: "/")   // as if preceded by a separator
        var dots = 0                          // dots since the last separator, -1 once anything else
        for b in path.utf8 {
            switch b {
            case 0: return false
            case UInt8(ascii: "/"):
                if prev == UInt8(ascii: "/") || dots > 0 { return false }
                dots = 0
            case UInt8(ascii: "."): if dots >= 0 { dots += 1 }
            default: dots = -1
            }
            prev = b
        }
        return prev != UInt8(ascii: "/") && dots <= 0
    }

    static func isRoot(_ path: String) -> Bool {
        !path.hasPrefix("/") && path.split(separator: "/").allSatisfy { $0 == "." }
    }

    /// True when a symlink at `linkPath` pointing at `target` stays inside the root.
    public static func linkStaysInside(linkPath: String, target: String) -> Bool {
        if target.hasPrefix("/") || target.isEmpty { return false }
        var stack = linkPath.split(separator: "/").dropLast().map(String.init)
        for c in target.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." {
                if stack.isEmpty { return false }
                stack.removeLast()
            } else {
                stack.append(String(c))
            }
        }
        return true
    }

    /// A target that walks through another link (`d -> .`, then `e -> d/..`) defeats the lexical
    /// check, so such targets are refused outright.
    private func resolvesThroughSymlink(linkPath: String, target: String) -> Bool {
        var stack = linkPath.split(separator: "/").dropLast().map(String.init)
        for c in target.split(separator: "/", omittingEmptySubsequences: true) where c != "." {
            if c == ".." { if !stack.isEmpty { stack.removeLast() }; continue }
            stack.append(String(c))
            if symlinks.contains(stack.joined(separator: "/")) { return true }
        }
        return false
    }

    /// Makes every parent of `rel` a real directory inside the root.
    private func prepareParents(_ rel: String, what: String) throws(EngineError) {
        // Tar members come directory by directory: most files share the previous one's parent.
        if let parent = Self.parent(of: rel), parent == lastParent, symlinks.isEmpty { return }
        var prefix = ""
        let comps = rel.split(separator: "/")
        for c in comps.dropLast() {
            prefix = prefix.isEmpty ? String(c) : prefix + "/" + c
            if checkedDirs.contains(prefix) { continue }
            if symlinks.contains(prefix) {
                throw EngineError(.extraction, "\(what): refused \"\(rel)\": parent \"\(prefix)\" is a symlink")
            }
            let full = root + "/" + prefix
            var st = Glibc.stat()
            if Glibc.lstat(full, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFLNK {
                    throw EngineError(.extraction, "\(what): refused \"\(rel)\": parent \"\(prefix)\" is a symlink")
                }
                if (st.st_mode & S_IFMT) != S_IFDIR {
                    throw EngineError(.extraction, "\(what): \"\(rel)\": parent \"\(prefix)\" is not a directory")
                }
            } else {
                do { try FS.mkdir(full, 0o755) } catch { throw EngineError(.extraction, "\(what): \(error)") }
            }
            checkedDirs.insert(prefix)
        }
        lastParent = Self.parent(of: rel)
    }

    /// "a/b" for "a/b/c", nil for a top-level name.
    static func parent(of rel: String) -> Substring? {
        guard let slash = rel.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        return rel[rel.startIndex..<slash]
    }

    /// Writes one regular file from `data`. With the io_uring backend the bytes are written at
    /// the next `flush()` (or `finish()`), so `data` must stay alive until then. Mode masked to 0o1777 (no setuid/setgid from packages).
    public func writeFile(_ rel: String, _ data: ByteReader, mode: UInt32, what: String) throws(EngineError) {
        guard let rel = Self.safeRelative(rel) else {
            throw EngineError(.extraction, "\(what): refused path outside the root \"\(rel)\"")
        }
        try prepareParents(rel, what: what)
        if !symlinks.isEmpty && symlinks.contains(rel) { throw EngineError(.extraction, "\(what): refused \"\(rel)\": it is a symlink") }
        try place(rel, what: what)
        let full = root + "/" + rel
        let m = mode & 0o1777
        do throws(SysError) {
            if wantsRing && ring == nil && filesWritten >= Self.ringAfterFiles {
                wantsRing = false
                ring = RingFileWriter(window: 64)   // nil (setup refused): plain syscalls, as the probe would say
            }
            let fd = try FS.open(full, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, m)
            // O_CREAT's mode is filtered by umask; put back what the umask took away.
            if m & umask != 0 {
                do throws(SysError) { try FS.fchmod(fd, m, path: full) } catch { FS.close(fd); throw error }
            }
            if let ring {
                pendingPaths.append(full)
                let failure = ring.write(fd: fd, data: data, tag: pendingPaths.count - 1)
                if let f = failure {
                    throw SysError(op: "write", path: f.tag < pendingPaths.count ? pendingPaths[f.tag] : full, errno: f.errno)
                }
            } else {
                do throws(SysError) { try FS.writeAll(fd, data, path: full) } catch { FS.close(fd); throw error }
                try FS.closeChecked(fd, path: full)
            }
        } catch {
            throw EngineError(.extraction, "\(what): \(error)")
        }
        filesWritten += 1
        bytesWritten += data.count
    }

    /// A file being written piece by piece (streaming extraction); always plain syscalls.
    public struct StreamingFile { public let fd: Int32; public let path: String }

    public func openStreamingFile(_ rel: String, mode: UInt32, what: String) throws(EngineError) -> StreamingFile {
        guard let rel = Self.safeRelative(rel) else {
            throw EngineError(.extraction, "\(what): refused path outside the root \"\(rel)\"")
        }
        try prepareParents(rel, what: what)
        if symlinks.contains(rel) { throw EngineError(.extraction, "\(what): refused \"\(rel)\": it is a symlink") }
        try place(rel, what: what)
        let full = root + "/" + rel
        let m = mode & 0o1777
        do throws(SysError) {
            let fd = try FS.open(full, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, m)
            if m & umask != 0 {
                do throws(SysError) { try FS.fchmod(fd, m, path: full) } catch { FS.close(fd); throw error }
            }
            return StreamingFile(fd: fd, path: full)
        } catch { throw EngineError(.extraction, "\(what): \(error)") }
    }

    public func closeStreamingFile(_ f: StreamingFile, bytes: Int) throws(EngineError) {
        do { try FS.closeChecked(f.fd, path: f.path) } catch { throw .sys(error, .extraction) }
        filesWritten += 1
        bytesWritten += bytes
    }

    public func makeDirectory(_ rel: String, mode: UInt32, what: String) throws(EngineError) {
        guard let rel = Self.safeRelative(rel) else {
            throw EngineError(.extraction, "\(what): refused path outside the root \"\(rel)\"")
        }
        try prepareParents(rel + "/x", what: what)
        deferredDirModes.append((rel, (mode & 0o1777) | 0o700))
    }

    public func makeSymlink(_ rel: String, target: String, what: String) throws(EngineError) {
        guard let rel = Self.safeRelative(rel), Self.linkStaysInside(linkPath: rel, target: target),
              !resolvesThroughSymlink(linkPath: rel, target: target) else {
            throw EngineError(.extraction, "\(what): refused symlink \"\(rel)\" -> \"\(target)\" (points outside the extraction root)")
        }
        try prepareParents(rel, what: what)
        try place(rel, what: what)
        let full = root + "/" + rel
        _ = Glibc.unlink(full)
        do { try FS.symlink(target: target, at: full) } catch { throw EngineError(.extraction, "\(what): \(error)") }
        symlinks.insert(rel)
        checkedDirs.remove(rel)
    }

    public func makeHardlink(_ rel: String, target: String, what: String) throws(EngineError) {
        guard let rel = Self.safeRelative(rel), let tgt = Self.safeRelative(target) else {
            throw EngineError(.extraction, "\(what): refused hard link \"\(rel)\" -> \"\(target)\"")
        }
        try prepareParents(rel, what: what)
        try prepareParents(tgt, what: what)
        if symlinks.contains(tgt) { throw EngineError(.extraction, "\(what): refused hard link to symlink \"\(tgt)\"") }
        try place(rel, what: what)
        let full = root + "/" + rel
        _ = Glibc.unlink(full)
        do { try FS.link(root + "/" + tgt, full) } catch { throw EngineError(.extraction, "\(what): \(error)") }
    }

    private func place(_ rel: String, what: String) throws(EngineError) {
        guard placed.insert(rel).inserted else {
            throw EngineError(.extraction, "\(what): refused a second member named \"\(rel)\" (the archive would describe two different trees)")
        }
    }

    /// Unpacks a tar archive under the root.
    public func extractTar(_ archive: ByteReader, what: String) throws(EngineError) {
        var reader = TarReader(archive)
        while true {
            let entry: TarEntry?
            do { entry = try reader.next() } catch { throw EngineError(.extraction, "\(what): \(error)") }
            guard let e = entry else { break }
            switch e.kind {
            case .file:
                let data: ByteReader
                do { data = try archive.slice(e.dataOffset..<e.dataOffset + e.size, region: "tar member \(e.path)") } catch {
                    throw EngineError(.extraction, "\(what): \(error)")
                }
                try writeFile(e.path, data, mode: e.mode == 0 ? 0o644 : e.mode, what: what)
            case .directory:
                // "./" (what `tar -C dir .` writes first) is the root itself.
                if Self.isRoot(e.path) { continue }
                try makeDirectory(e.path, mode: e.mode == 0 ? 0o755 : e.mode, what: what)
            case .symlink: try makeSymlink(e.path, target: e.linkTarget, what: what)
            case .hardlink: try makeHardlink(e.path, target: e.linkTarget, what: what)
            }
        }
        // Queued writes point into `archive`, which the caller may free after we return.
        try flush()
    }

    /// Applies directory modes from tar members last, deepest first, once all children exist.
    /// The owner always keeps rwx on directories, so a workenv can be re-extracted and removed.
    public func finish() throws(EngineError) {
        try flush()
        defer { deferredDirModes.removeAll() }
        for (rel, mode) in deferredDirModes.reversed() {
            do { try FS.chmod(root + "/" + rel, mode) } catch { throw .sys(error, .extraction) }
        }
    }
}
