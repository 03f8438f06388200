import Glibc
import FlavorBuild
import FlavorFormat
import FlavorSys

/// Finds, copies and re-points the shared libraries that bundled ELF files need beyond glibc, the
/// way ld.so would find them on the build machine (DT_RPATH/DT_RUNPATH with $ORIGIN, then the
/// ld.so.conf directories), so that on the target every one of them is found beside the bundle and
/// no host path (such as pyenv's absolute RUNPATH) is ever used.
struct LibraryBundler {
    /// One ELF file in the stage: where it is, where it lands in the workenv, and the host
    /// directory its $ORIGIN meant at build time.
    struct Object {
        var staged: String
        var final: String
        var originDir: String
        /// Wheels ship release builds, often already rewritten by auditwheel's patchelf: binutils'
        /// strip then misplaces their segments ("ELF load command address/offset not page-aligned").
        var strippable = true
    }

    /// glibc's own libraries: the target has them (their versions are checked at launch instead).
    static let glibc: Set<String> = [
        "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
        "libresolv.so.2", "libanl.so.1", "libmvec.so.1", "libBrokenLocale.so.1", "libc_malloc_debug.so.0",
        "libthread_db.so.1", "ld-linux-x86-64.so.2", "libnss_files.so.2", "libnss_dns.so.2",
    ]

    /// Where copied libraries go (in the stage, and in workenv terms).
    var bundleStaged: String
    var bundleFinal: String
    /// Directories (staged, final) whose libraries an object may use without copying: the runtime's lib/.
    var available: [(staged: String, final: String)]
    var searchDirs: [String]
    var strip: Bool
    var log: (String) -> Void

    private(set) var copied: [String] = []
    /// Where each copied library came from on this machine (the SBOM names its Debian package).
    private(set) var copiedFrom: [String: String] = [:]
    private(set) var newestGlibc: GlibcVersion? = nil
    private(set) var patched = 0

    init(bundleStaged: String, bundleFinal: String, available: [(staged: String, final: String)] = [], strip: Bool,
         log: @escaping (String) -> Void) {
        self.bundleStaged = bundleStaged; self.bundleFinal = bundleFinal; self.available = available; self.strip = strip
        self.log = log
        searchDirs = Self.ldSearchDirectories()
    }

    /// Handles `objects` and every library they pull in: strip (when asked), copy what is needed,
    /// set RUNPATH to $ORIGIN-relative entries only. Throws naming the object and the library
    /// that cannot be found.
    mutating func process(_ objects: [Object]) throws(BuildError) {
        var queue = objects
        var done = Set<String>()
        while let o = queue.popLast() {
            guard done.insert(o.staged).inserted else { continue }
            let elf = try Self.read(o.staged)
            if strip && o.strippable { try Self.stripDebug(o.staged) }
            for v in elf.glibcVersions { if newestGlibc.map({ v > $0 }) ?? true { newestGlibc = v } }
            var runpath = [String]()          // what the object keeps: $ORIGIN-relative only
            for r in elf.searchPath where r.hasPrefix("$ORIGIN") || r.hasPrefix("${ORIGIN}") { runpath.append(r) }
            var needsDirs = [String]()        // final directories it needs added
            for name in elf.needed where !Self.glibc.contains(name) && !name.hasPrefix("libnss_") {
                if let dir = foundInStage(name, object: o, keptRunpath: runpath) { if let dir { needsDirs.append(dir) }; continue }
                guard let host = hostLibrary(name, elf: elf, object: o) else {
                    throw BuildError("\(o.final) needs \(name), which is not found on this machine (searched \(elf.searchPath.map { $0 } + searchDirs)); install it, or exclude the module")
                }
                let dst = bundleStaged + "/" + name
                if !FS.exists(dst) {
                    do {
                        try FS.mkdirs(bundleStaged, 0o755)
                        let real = FS.realPath(host) ?? host
                        try FS.copyFile(real, dst, mode: 0o755)
                        copied.append(name)
                        copiedFrom[name] = real
                        log("bundled \(name) from \(real)")
                        queue.append(Object(staged: dst, final: bundleFinal + "/" + name, originDir: parentDirectory(real)))
                    } catch { throw BuildError("copying \(host): \(error.reason)") }
                }
                needsDirs.append(bundleFinal)
            }
            let objDir = parentDirectory(o.final)
            for d in needsDirs {
                let rel = Tree.relative(from: objDir, to: d)
                let entry = rel == "." ? "$ORIGIN" : "$ORIGIN/" + rel
                if !runpath.contains(entry) { runpath.append(entry) }
            }
            if runpath != elf.runpath || !elf.rpath.isEmpty {
                try Self.setRunpath(o.staged, runpath)
                patched += 1
            }
        }
    }

    /// nil when not in the stage; .some(dir) when it is in an `available`/bundle dir the object
    /// must point at; .some(nil) when its own $ORIGIN RUNPATH already finds it in the stage.
    private func foundInStage(_ name: String, object o: Object, keptRunpath: [String]) -> String?? {
        for r in keptRunpath {
            let dir = r.replacingOrigin(with: parentDirectory(o.staged))
            if FS.exists(dir + "/" + name) { return .some(nil) }
        }
        for a in available where FS.exists(a.staged + "/" + name) { return .some(a.final) }
        if FS.exists(bundleStaged + "/" + name) { return .some(bundleFinal) }
        return nil
    }

    /// As ld.so searches on the build machine: the object's RPATH (when it has no RUNPATH) or
    /// RUNPATH, $ORIGIN being its original directory, then the system directories.
    private func hostLibrary(_ name: String, elf: ELFInfo, object o: Object) -> String? {
        for r in elf.searchPath {
            let dir = r.replacingOrigin(with: o.originDir)
            if FS.exists(dir + "/" + name) { return dir + "/" + name }
        }
        for d in searchDirs where FS.exists(d + "/" + name) { return d + "/" + name }
        return nil
    }

    static func read(_ path: String) throws(BuildError) -> ELFInfo {
        let bytes: [UInt8]
        do { bytes = try FS.readFile(path, limit: 1 << 30) } catch { throw BuildError("\(path): \(error.reason)") }
        do { return try ELFInfo(bytes) } catch { throw BuildError("\(path): not a readable ELF file: \(error)") }
    }

    static func isELF(_ path: String) -> Bool {
        FS.readPrefix(path, count: 4).map { ELF.isELF(prefix: $0) } ?? false
    }

    static func stripDebug(_ path: String) throws(BuildError) {
        _ = try Subprocess.check(["strip", "--strip-debug", path], what: "strip --strip-debug \(path)")
    }

    static func setRunpath(_ path: String, _ entries: [String]) throws(BuildError) {
        guard Subprocess.available("patchelf") else {
            throw BuildError("patchelf is needed to make the bundled Python relocatable (apt-get install patchelf)")
        }
        if entries.isEmpty {
            _ = try Subprocess.check(["patchelf", "--remove-rpath", path], what: "patchelf --remove-rpath \(path)")
        } else {
            _ = try Subprocess.check(["patchelf", "--set-rpath", entries.joined(separator: ":"), path], what: "patchelf --set-rpath \(path)")
        }
    }

    /// The directories ld.so searches after RUNPATH: /etc/ld.so.conf (with its includes), then the defaults.
    static func ldSearchDirectories() -> [String] {
        var dirs = [String]()
        func readConf(_ path: String, depth: Int) {
            guard depth < 8, let bytes = try? FS.readFile(path, limit: 1 << 20) else { return }
            for raw in String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0.isNewline }) {
                let line = String(raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmingWhitespace()
                if line.isEmpty { continue }
                if line.hasPrefix("include ") {
                    let pattern = String(line.dropFirst(8)).trimmingWhitespace()
                    let dir = parentDirectory(pattern), glob = String(pattern.split(separator: "/").last ?? "")
                    for name in (try? FS.listDirectory(dir)) ?? [] where Tree.globMatch(glob, name) {
                        readConf(dir + "/" + name, depth: depth + 1)
                    }
                } else if line.hasPrefix("/") {
                    dirs.append(line)
                }
            }
        }
        readConf("/etc/ld.so.conf", depth: 0)
        dirs += ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]
        var seen = Set<String>()
        return dirs.filter { seen.insert($0).inserted }
    }
}

/// The facts of one ELF file the bundler needs.
struct ELFInfo {
    var needed: [String]
    var runpath: [String]
    var rpath: [String]
    var glibcVersions: [GlibcVersion]
    /// What ld.so searches for this object's dependencies: RPATH only when there is no RUNPATH.
    var searchPath: [String] { runpath.isEmpty ? rpath : runpath }

    init(_ bytes: [UInt8]) throws(FormatError) {
        let elf = try ELF(bytes: bytes)
        needed = elf.needed
        runpath = elf.runpath
        rpath = elf.rpath
        glibcVersions = elf.versionsNeeded
            .filter { LibraryBundler.glibc.contains($0.file) }
            .flatMap { $0.names.compactMap { GlibcVersion(versionName: $0) } }
    }
}

extension String {
    func replacingOrigin(with dir: String) -> String {
        var s = self
        for token in ["${ORIGIN}", "$ORIGIN"] where s.hasPrefix(token) { s = dir + s.dropFirst(token.count) }
        return s
    }
}
