import Glibc
import FlavorBuild
import FlavorFormat
import FlavorSys

/// The interpreter a package bundles, as it describes itself.
public struct Interpreter: Sendable {
    /// The real executable (symlinks and pyenv shims resolved; a venv's base interpreter).
    public var executable: String
    public var version: String          // "3.11.7"
    public var short: String            // "3.11"
    public var prefix: String           // sys.base_prefix
    public var stdlib: String           // .../lib/python3.11
    public var hasPip: Bool

    static let query = """
        import sys, os, sysconfig, json, importlib.util
        exe = getattr(sys, "_base_executable", None) or sys.executable
        print(json.dumps({"executable": os.path.realpath(exe), "version": "%d.%d.%d" % sys.version_info[:3],
          "short": "%d.%d" % sys.version_info[:2], "implementation": sys.implementation.name,
          "prefix": sys.base_prefix, "stdlib": sysconfig.get_path("stdlib"),
          "pip": importlib.util.find_spec("pip") is not None}))
        """

    /// Asks `python` (a path or a name on PATH) about itself; errors say why it is not usable.
    public static func inspect(_ python: String) throws(BuildError) -> Interpreter {
        let r: Subprocess.Result
        do { r = try Subprocess.run([python, "-I", "-c", query]) } catch {
            throw BuildError("--python \(python): \(error.message)")
        }
        guard r.status == 0, let json = try? JSONValue.parse(Array(r.stdout.split(separator: UInt8(ascii: "\n")).last ?? [])) else {
            throw BuildError("--python \(python) is not a Python interpreter (running it with -c failed: exit \(r.status)\(r.tail(3).isEmpty ? "" : ": " + r.tail(3)))")
        }
        guard json["implementation"]?.stringValue == "cpython" else {
            throw BuildError("--python \(python): only CPython can be bundled (this is \(json["implementation"]?.stringValue ?? "?"))")
        }
        guard let exe = json["executable"]?.stringValue, let v = json["version"]?.stringValue,
              let s = json["short"]?.stringValue, let prefix = json["prefix"]?.stringValue,
              let stdlib = json["stdlib"]?.stringValue else { throw BuildError("--python \(python): unexpected answer: \(r.stdoutText)") }
        return Interpreter(executable: exe, version: v, short: s, prefix: prefix, stdlib: stdlib, hasPip: json["pip"]?.boolValue ?? false)
    }
}

/// A relocatable copy of an interpreter: `python/` (bin/, lib/libpython, lib/pythonX.Y with
/// lib-dynload, lib/<bundled .so>), every RUNPATH $ORIGIN-relative, byte-compiled. Made once per
/// interpreter and options into the build cache, then reused by every build.
public struct StagedRuntime: Sendable {
    public var root: String             // holds python/
    public var interpreter: Interpreter
    /// workenv-relative site-packages of the bundled interpreter ("python/lib/python3.11/site-packages").
    public var siteFinal: String
    public var newestGlibc: String?
    public var bundledLibraries: [String]
    /// Library name → the host file it was copied from.
    public var librarySources: [String: String] = [:]

    public var pythonStaged: String { root + "/python" }
    public var executableFinal: String { "python/bin/python" + interpreter.short }
    public var executableStaged: String { root + "/" + executableFinal }

    public struct Options: Sendable {
        public var cacheDir: String
        public var strip = true
        public var keepStdlibExtras = false
        /// Ship the standard library's `.py` sources beside its bytecode. Off by default: sourceless,
        /// the stdlib is ~600 files instead of ~1,200 and 11 MB smaller, which is most of a cold launch
        /// on a disk file system; only stdlib frames in tracebacks lose their source line.
        public var stdlibSources = false
        public init(cacheDir: String) { self.cacheDir = cacheDir }
    }

    /// Parts of the standard library no app needs by default (`keep_stdlib_extras` keeps them).
    static let extraDirectories: Set<String> = ["test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3"]
    static let extraModulePrefixes = ["_test", "xxlimited", "_xxtestfuzz", "_tkinter", "_ctypes_test", "xxsubtype"]
    /// Bump when the layout or the recipe changes: old cache entries then are not reused.
    static let recipe = "5"

    /// The cached runtime for `interp`, made first if needed.
    public static func make(_ interp: Interpreter, options: Options, log: @escaping (String) -> Void) throws(BuildError) -> StagedRuntime {
        let key = cacheKey(interp, options)
        let dir = options.cacheDir + "/runtime-" + interp.version + "-" + key
        if let cached = try? load(dir, interp) { log("runtime: cached \(dir)"); return cached }
        let tmp = dir + ".tmp-\(getpid())"
        try? FS.removeTree(tmp)
        do { try FS.mkdirs(tmp, 0o755) } catch { throw BuildError("cannot create \(tmp): \(error.reason)") }
        do throws(BuildError) {
            var rt = try build(interp, into: tmp, options: options, log: log)
            let info = JSONValue.object([
                ("version", .string(interp.version)), ("site", .string(rt.siteFinal)),
                ("newest_glibc", rt.newestGlibc.map { .string($0) } ?? .null),
                ("libraries", .array(rt.bundledLibraries.map { .string($0) })),
                ("library_sources", .object(rt.librarySources.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ])
            do { try FS.writeFileAtomically(tmp + "/runtime.json", info.serialized(pretty: true)) } catch { throw BuildError("\(tmp): \(error.reason)") }
            try? FS.removeTree(dir)
            do { try FS.rename(tmp, dir) } catch { throw BuildError("cannot publish \(dir): \(error.reason)") }
            rt.root = dir
            return rt
        } catch {
            try? FS.removeTree(tmp)
            throw error
        }
    }

    static func cacheKey(_ i: Interpreter, _ o: Options) -> String {
        var text = "\(recipe)|\(i.executable)|\(i.version)|\(i.stdlib)|\(o.strip)|\(o.keepStdlibExtras)|\(o.stdlibSources)"
        for p in [i.executable, i.stdlib, i.stdlib + "/lib-dynload", i.prefix + "/lib"] {
            if let s = try? FS.statFollowing(p) { text += "|\(p):\(s.size):\(s.mtime)" }
        }
        var h = SHA256(); h.update(Array(text.utf8))
        return String(hex(bytes: h.finalize()).prefix(16))
    }

    static func load(_ dir: String, _ interp: Interpreter) throws -> StagedRuntime {
        let json = try JSONValue.parse(try FS.readFile(dir + "/runtime.json"))
        guard let site = json["site"]?.stringValue else { throw BuildError("bad runtime.json") }
        var rt = StagedRuntime(root: dir, interpreter: interp, siteFinal: site, newestGlibc: json["newest_glibc"]?.stringValue,
                               bundledLibraries: (json["libraries"]?.arrayValue ?? []).compactMap(\.stringValue))
        for (k, v) in json["library_sources"]?.objectValue ?? [] { rt.librarySources[k] = v.stringValue }
        guard Exec.isExecutable(rt.executableStaged) else { throw BuildError("incomplete") }
        return rt
    }

    static func build(_ interp: Interpreter, into root: String, options: Options, log: @escaping (String) -> Void) throws(BuildError) -> StagedRuntime {
        let py = root + "/python", short = interp.short
        let libFinal = "python/lib", stdFinal = "python/lib/python" + short
        do {
            try FS.mkdirs(py + "/bin", 0o755)
            try FS.copyFile(interp.executable, py + "/bin/python" + short, mode: 0o755)
            try FS.symlink(target: "python" + short, at: py + "/bin/python3")
            try FS.symlink(target: "python" + short, at: py + "/bin/python")
        } catch { throw BuildError("copying \(interp.executable): \(error.reason)") }
        let keep = options.keepStdlibExtras
        try Tree.copy(interp.stdlib, root + "/" + stdFinal) { rel, isDir in
            let name = rel.split(separator: "/").last.map(String.init) ?? rel
            if isDir {
                if name == "__pycache__" || name == "site-packages" || name == "dist-packages" { return true }
                if !rel.contains("/") && name.hasPrefix("config-") { return true }   // libpython.a and build files
                return !keep && extraDirectories.contains(name)
            }
            if name.hasSuffix(".pyc") { return true }
            if !keep && rel.hasPrefix("lib-dynload/") { return extraModulePrefixes.contains { name.hasPrefix($0) } }
            return false
        }
        do { try FS.mkdirs(root + "/" + stdFinal + "/site-packages", 0o755) } catch { throw BuildError("\(root): \(error.reason)") }

        // Every ELF file of the runtime, with the host directory its $ORIGIN meant.
        var objects = [LibraryBundler.Object(staged: py + "/bin/python" + short, final: "python/bin/python" + short,
                                             originDir: parentDirectory(interp.executable))]
        for rel in try Tree.files(root + "/" + stdFinal) where rel.hasSuffix(".so") && LibraryBundler.isELF(root + "/" + stdFinal + "/" + rel) {
            objects.append(.init(staged: root + "/" + stdFinal + "/" + rel, final: stdFinal + "/" + rel,
                                 originDir: parentDirectory(interp.stdlib + "/" + rel)))
        }
        var bundler = LibraryBundler(bundleStaged: py + "/lib", bundleFinal: libFinal, strip: options.strip, log: log)
        try bundler.process(objects)
        log("runtime: \(objects.count) ELF files, \(bundler.copied.count) libraries bundled (\(bundler.copied.joined(separator: " "))), \(bundler.patched) RUNPATHs set")

        // The copy must now run from where it is, with nothing of the host: ask it where it lives.
        let exe = py + "/bin/python" + short
        let probe = "import sys, site, json; print(json.dumps({'prefix': sys.prefix, 'site': site.getsitepackages()[0], 'path': sys.path}))"
        let r = try Subprocess.run([exe, "-I", "-S", "-B", "-c", probe], env: ["PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"])
        guard r.status == 0, let j = try? JSONValue.parse(r.stdout), let prefix = j["prefix"]?.stringValue,
              let site = j["site"]?.stringValue else {
            throw BuildError("the copied interpreter does not start from \(py) (\(interp.executable) is not relocatable?):\n\(r.tail())")
        }
        let realPy = FS.realPath(py) ?? py
        guard prefix == py || prefix == realPy, site.hasPrefix(prefix + "/") else {
            throw BuildError("the copied interpreter found its library at \(prefix), not at \(py): \(interp.executable) is not relocatable")
        }
        let siteFinal = "python/" + site.dropFirst(prefix.count + 1)
        do { try FS.mkdirs(root + "/" + siteFinal, 0o755) } catch { throw BuildError("\(root): \(error.reason)") }

        try compile(exe, root + "/" + stdFinal, as: "lib/python" + short, log: log)
        if !options.stdlibSources { try dropSources(root + "/" + stdFinal, log: log) }
        var rt = StagedRuntime(root: root, interpreter: interp, siteFinal: siteFinal,
                               newestGlibc: bundler.newestGlibc?.description, bundledLibraries: bundler.copied.sorted())
        rt.librarySources = bundler.copiedFrom
        return rt
    }

    /// Makes the standard library sourceless: each `D/__pycache__/M.cpython-3X.pyc` becomes `D/M.pyc`
    /// (found by the interpreter's sourceless loader) and `D/M.py` goes. site-packages (the app and its
    /// dependencies keep their sources) and files that did not compile are left as they are.
    static func dropSources(_ stdlib: String, log: (String) -> Void) throws(BuildError) {
        var moved = 0
        for rel in try Tree.files(stdlib) where rel.hasSuffix(".pyc") && !rel.hasPrefix("site-packages/") {
            let parts = rel.split(separator: "/").map(String.init)
            guard parts.count >= 2, parts[parts.count - 2] == "__pycache__",
                  let module = parts.last?.split(separator: ".").first.map(String.init) else { continue }
            let dir = parts.dropLast(2).joined(separator: "/")
            let base = stdlib + (dir.isEmpty ? "" : "/" + dir) + "/" + module
            guard FS.exists(base + ".py") else { continue }
            do {
                try FS.rename(stdlib + "/" + rel, base + ".pyc")
                try FS.unlink(base + ".py")
            } catch { throw BuildError("making the standard library sourceless (\(rel)): \(error.reason)") }
            moved += 1
        }
        Tree.pruneEmpty(stdlib)
        log("runtime: standard library sourceless (\(moved) modules as .pyc only; --stdlib-sources keeps the .py files)")
    }

    /// Byte-compiles `dir` with hash-based pycs that are never re-checked (a launch then never
    /// writes a .pyc, and no mtime is in them: rebuilds are byte-identical). Files that do not
    /// compile (test data, Python 2 leftovers) are left as source.
    static func compile(_ python: String, _ dir: String, as shownPath: String, log: (String) -> Void) throws(BuildError) {
        // One process, a fixed hash seed: marshal's output depends on the order of compilation
        // and on string hashes (compileall's worker pool and a random seed made pycs differ).
        // -s and a fixed environment instead of -I, which would ignore PYTHONHASHSEED.
        let r = try Subprocess.run([python, "-s", "-B", "-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash",
                                    "-d", shownPath, dir],
                                   env: ["PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "PYTHONHASHSEED=0", "SOURCE_DATE_EPOCH=0"])
        if r.status != 0 {
            let failures = r.stdoutText.split(whereSeparator: { $0.isNewline }).filter { $0.hasPrefix("***") }.count
            log("compile: \(failures) files under \(shownPath) do not compile; kept as source")
        }
    }
}
