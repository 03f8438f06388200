import Glibc
import FlavorBuild
import FlavorSys

/// File-tree chores of a Python build: copy with a filter, walk, move, match globs.
enum Tree {
    /// Copies `from` to `to` (which must not exist) keeping symlinks and modes; `skip` sees each
    /// path relative to `from` and whether it is a directory.
    static func copy(_ from: String, _ to: String, skip: (String, Bool) -> Bool = { _, _ in false }) throws(BuildError) {
        do {
            try FS.mkdirs(to, 0o755)
            try copyChildren(from, to, rel: "", skip: skip)
        } catch { throw BuildError("copying \(from): \(error.reason)") }
    }

    private static func copyChildren(_ from: String, _ to: String, rel: String, skip: (String, Bool) -> Bool) throws(SysError) {
        for e in try FS.listDirectoryWithStatus(from) {
            let r = rel.isEmpty ? e.name : rel + "/" + e.name
            let src = from + "/" + e.name, dst = to + "/" + e.name
            if e.status.isDirectory {
                if skip(r, true) { continue }
                try FS.mkdir(dst, 0o755)
                try copyChildren(src, dst, rel: r, skip: skip)
            } else if skip(r, false) {
                continue
            } else if e.status.isSymlink {
                try FS.symlink(target: try FS.readLink(src), at: dst)
            } else if e.status.isRegular {
                try FS.copyFile(src, dst, mode: e.status.permissions)
            }
        }
    }

    /// Every non-directory path under `root`, relative to it, sorted.
    static func files(_ root: String) throws(BuildError) -> [String] {
        var out = [String]()
        func walk(_ dir: String, _ rel: String) throws(SysError) {
            for e in try FS.listDirectoryWithStatus(dir) {
                let r = rel.isEmpty ? e.name : rel + "/" + e.name
                if e.status.isDirectory { try walk(dir + "/" + e.name, r) } else { out.append(r) }
            }
        }
        do { try walk(root, "") } catch { throw BuildError("listing \(root): \(error.reason)") }
        return out
    }

    /// Moves `rel` from one root to another, making parents.
    static func move(_ rel: String, from: String, to: String) throws(BuildError) {
        let dst = to + "/" + rel
        do {
            try FS.mkdirs(parentDirectory(dst), 0o755)
            try FS.rename(from + "/" + rel, dst)
        } catch { throw BuildError("moving \(rel): \(error.reason)") }
    }

    /// Removes directories under `root` that hold nothing (after files moved out).
    @discardableResult
    static func pruneEmpty(_ dir: String) -> Bool {
        guard let entries = try? FS.listDirectoryWithStatus(dir) else { return false }
        var empty = true
        for e in entries {
            if e.status.isDirectory, pruneEmpty(dir + "/" + e.name) { _ = rmdir(dir + "/" + e.name) } else { empty = false }
        }
        return empty
    }

    /// `*` and `?` glob against a relative path; a pattern without `/` also matches any one
    /// component, so `tests` or `*.pyi` work anywhere in the tree.
    static func matches(_ pattern: String, _ rel: String) -> Bool {
        if globMatch(pattern, rel) { return true }
        if !pattern.contains("/") {
            return rel.split(separator: "/").contains { globMatch(pattern, String($0)) }
        }
        return globMatch(pattern + "/*", rel)
    }

    static func globMatch(_ pattern: String, _ name: String) -> Bool { Glob.match(pattern, name) }

    /// `path` relative to directory `base` (both relative to the same root, no `..` in them).
    static func relative(from base: String, to path: String) -> String {
        let b = base.split(separator: "/"), p = path.split(separator: "/")
        var k = 0
        while k < b.count, k < p.count, b[k] == p[k] { k += 1 }
        let up = Array(repeating: "..", count: b.count - k)
        let parts = up + p[k...].map(String.init)
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}
