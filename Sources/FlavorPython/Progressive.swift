import Glibc
import FlavorBuild
import FlavorFormat
import FlavorSys

/// Progressive extraction of a Python build: what the startup profile imports stays in the eager
/// slots; every other installed distribution and standard-library package becomes a `lazy` slot,
/// which the import hook (`_flavor_lazy`, in the runtime slot) has the launcher extract on the
/// first import of a module it holds.
enum Progressive {
    /// One lazy slot: its files staged under `source`, extracted to `target` (workenv-relative).
    struct LazySlot {
        var id: String
        var source: String
        var target: String
        /// Top-level import names the hook maps to this slot.
        var modules: [String]
        var bytes: Int
    }

    struct Split {
        /// The runtime tree to pack as the eager `python` slot (the cached runtime minus its lazy parts).
        var pythonSource: String
        var lazy: [LazySlot]
    }

    /// Lazy units smaller than this share one slot per tree (each ensure is a launcher process).
    static let smallUnitBytes = 512 << 10
    /// Tar bytes per shard of a lazy slot (eager slots: Packer.shardBytes, 8 MiB).
    static let lazyShardBytes = 2 << 20
    static let hookModule = "_flavor_lazy"

    // MARK: the startup profile

    /// Module names in sys.modules when the entry point has run with `args`, site and app on the
    /// path as in the workenv. Written by an atexit handler, so a `sys.exit` from `--help` still counts.
    static let profileScript = """
        import sys
        site_dir, app_dir, out, mod, attr, script = sys.argv[1:7]
        args = sys.argv[7:]
        import site, atexit
        site.addsitedir(site_dir); site.addsitedir(app_dir)
        def dump():
            names = sorted(sys.modules)
            with open(out, "w") as f:
                f.write("\\n".join(names))
        atexit.register(dump)
        sys.argv = [script] + args
        import importlib
        obj = importlib.import_module(mod)
        for part in attr.split("."):
            obj = getattr(obj, part)
        sys.exit(obj())
        """

    /// What the interpreter holds before `main`: bare startup with site, then each profile run.
    static func profile(_ runtime: StagedRuntime, site: String, app: String, entry: PythonBuild.EntryPoint,
                        runs: [[String]], scratch: String, log: (String) -> Void) throws(BuildError) -> Set<String> {
        let exe = runtime.executableStaged
        let out = scratch + "/imports.txt"
        let env = ["PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "HOME=" + scratch, "PYTHONHASHSEED=0"]
        func read() throws(BuildError) -> Set<String> {
            guard let bytes = try? FS.readFile(out, limit: 16 << 20) else { return [] }
            _ = unlink(out)
            return Set(String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init))
        }
        let bare = "import sys; open(sys.argv[1], 'w').write('\\n'.join(sorted(sys.modules)))"
        let r0 = try Subprocess.run([exe, "-s", "-B", "-c", bare, out], env: env, cwd: scratch)
        guard r0.status == 0 else { throw BuildError("the bundled interpreter does not start (exit \(r0.status)):\n\(r0.tail())") }
        var names = try read()
        for args in runs {
            let shown = ([entry.scriptName] + args).joined(separator: " ")
            let r = try Subprocess.run([exe, "-s", "-B", "-c", profileScript, site, app, out, entry.module, entry.attribute, entry.scriptName] + args,
                                       env: env, cwd: scratch)
            let seen = try read()
            if seen.isEmpty {
                throw BuildError("startup profile `\(shown)` ended before its imports were recorded (exit \(r.status)):\n\(r.tail())")
            }
            log("startup profile `\(shown)`: exit \(r.status), \(seen.subtracting(names).count) more modules")
            names.formUnion(seen)
        }
        // A package is imported with each of its submodules.
        for n in Array(names) {
            var parts = n.split(separator: ".")
            while parts.count > 1 { parts.removeLast(); names.insert(parts.joined(separator: ".")) }
        }
        return names
    }

    // MARK: grouping files into units

    /// The top-level name a path under a sys.path directory belongs to: `pkg/...` → pkg,
    /// `mod.py`/`mod.pyc`/`mod.cpython-311-x86_64-linux-gnu.so` → mod, `__pycache__/mod.cpython-311.pyc` → mod.
    static func key(_ rel: String, splitting: Set<String> = []) -> String {
        let parts = rel.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: true)
        guard let first = parts.first.map(String.init) else { return rel }
        if first == "__pycache__", parts.count >= 2 { return moduleStem(String(parts[1])) }
        if parts.count == 1 { return moduleStem(first) }
        // A package split by submodule: `pkg/sub.pyc` and `pkg/sub/...` are pkg.sub, the rest is pkg.
        if splitting.contains(first) {
            let sub = key(String(rel.dropFirst(first.count + 1)))
            return sub == "__init__" || !isIdentifier(sub) ? first : first + "." + sub
        }
        return first
    }

    /// Standard-library packages split by submodule: imported at startup, mostly not needed.
    static let splitPackages: Set<String> = ["encodings", "importlib"]

    static func isModuleName(_ s: String) -> Bool { s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isIdentifier(String($0)) } }

    static func moduleStem(_ name: String) -> String {
        guard name.hasSuffix(".py") || name.hasSuffix(".pyc") || name.hasSuffix(".so") else { return name }
        return String(name.prefix { $0 != "." })
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.utf8.first, f == UInt8(ascii: "_") || (f | 0x20) >= UInt8(ascii: "a") && (f | 0x20) <= UInt8(ascii: "z") else { return false }
        return s.utf8.allSatisfy { c in
            c == UInt8(ascii: "_") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z"))
        }
    }

    /// Union-find over unit labels.
    struct Groups {
        var parent = [String: String]()
        mutating func find(_ a: String) -> String {
            var r = a
            while let p = parent[r], p != r { r = p }
            var x = a
            while let p = parent[x], p != r { parent[x] = r; x = p }
            if parent[a] == nil { parent[a] = a }
            return r
        }
        mutating func union(_ a: String, _ b: String) {
            let ra = find(a), rb = find(b)
            if ra != rb { if ra < rb { parent[rb] = ra } else { parent[ra] = rb } }
        }
    }

    /// A set of files extracted together and the import names it provides.
    struct Unit {
        var labels: [String] = []
        var files: [String] = []
        var names: Set<String> = []
        var bytes = 0
    }

    /// site-packages by installed distribution (from each `.dist-info/RECORD`); distributions sharing
    /// a top-level name (namespace packages) form one unit. Files no RECORD claims, `.pth` files and
    /// every `.dist-info` stay eager (not in any unit). Returns units keyed by their first distribution.
    /// A library the build bundled into `flavor.libs/` joins the distributions whose extension
    /// modules need it, unless the app's own code (`eagerNeeds`) does.
    static func distributionUnits(_ site: String, eagerNeeds: Set<String> = []) throws(BuildError) -> [String: Unit] {
        var owners = [String: Set<String>]()
        var groups = Groups()
        for name in ((try? FS.listDirectory(site)) ?? []).sorted() where name.hasSuffix(".dist-info") {
            let dist = PythonBuild.normalize(String(name.prefix { $0 != "-" }))
            _ = groups.find(dist)
            for path in try PythonBuild.recordPaths(site + "/" + name) {
                let k = key(path)
                if k.hasSuffix(".dist-info") || k.hasSuffix(".pth") || k == "__pycache__" { continue }
                owners[k, default: []].insert(dist)
            }
        }
        for (_, ds) in owners where ds.count > 1 {
            let sorted = ds.sorted()
            for d in sorted.dropFirst() { groups.union(sorted[0], d) }
        }
        let files = try Tree.files(site)
        let bundle = "flavor.libs/"
        var bundled = Set(files.filter { $0.hasPrefix(bundle) && !$0.dropFirst(bundle.count).contains("/") }.map { String($0.dropFirst(bundle.count)) })
        bundled.subtract(eagerNeeds)
        for rel in files where rel.contains(".so") && LibraryBundler.isELF(site + "/" + rel) {
            let needs = ((try? LibraryBundler.read(site + "/" + rel))?.needed ?? []).filter(bundled.contains)
            let label: String
            if rel.hasPrefix(bundle) { label = "lib:" + rel.dropFirst(bundle.count) }
            else if let d = owners[key(rel)]?.min() { label = d } else { continue }
            for n in needs { groups.union(label, "lib:" + n) }
        }
        var units = [String: Unit]()
        for rel in files {
            let k = key(rel)
            let lib = rel.hasPrefix(bundle) && bundled.contains(String(rel.dropFirst(bundle.count)))
            guard let d = lib ? "lib:" + rel.dropFirst(bundle.count) : owners[k]?.min() else { continue }   // eager
            let root = groups.find(d)
            var u = units[root] ?? Unit()
            if u.labels.isEmpty { u.labels = groups.parent.keys.filter { groups.find($0) == root && !$0.hasPrefix("lib:") }.sorted() }
            u.files.append(rel)
            if !lib && isIdentifier(k) { u.names.insert(k) }
            u.bytes += (try? FS.lstat(site + "/" + rel).size) ?? 0
            units[root] = u
        }
        // Libraries no distribution needs: eager, like the rest of flavor.libs.
        return units.filter { !$0.value.names.isEmpty }
    }

    /// The standard library (under the runtime root `python/`) by top-level package or module;
    /// extension modules in lib-dynload join the package of their name, and a bundled library in
    /// `lib/` joins every extension module that needs it. The interpreter, libpython and the libraries
    /// they need, site-packages and anything else stay eager.
    static func stdlibUnits(_ root: String, short: String) throws(BuildError) -> [String: Unit] {
        let std = "lib/python" + short + "/"
        var groups = Groups()
        var keyOf = [String: String]()            // file → unit label
        var libs = [String: String]()             // lib file name → label
        var coreObjects = [String]()
        var extObjects = [(String, String)]()     // (file, label)
        let files = try Tree.files(root)
        for rel in files {
            if rel.hasPrefix(std + "site-packages/") { continue }   // eager
            if rel.hasPrefix(std + "lib-dynload/") {
                let label = "std:" + moduleStem(String(rel.dropFirst(std.count + "lib-dynload/".count)))
                keyOf[rel] = label; extObjects.append((rel, label)); continue
            }
            if rel.hasPrefix(std) { keyOf[rel] = "std:" + key(String(rel.dropFirst(std.count)), splitting: splitPackages); continue }
            let parts = rel.split(separator: "/")
            if parts.count == 2, parts[0] == "lib", parts[1].contains(".so"), !parts[1].hasPrefix("libpython") {
                libs[String(parts[1])] = "lib:" + parts[1]; keyOf[rel] = "lib:" + parts[1]; continue
            }
            if parts.first == "bin" || parts[parts.count - 1].hasPrefix("libpython") { coreObjects.append(rel) }
        }
        func needed(_ rel: String) -> [String] {
            guard let st = try? FS.lstat(root + "/" + rel), st.isRegular, LibraryBundler.isELF(root + "/" + rel),
                  let info = try? LibraryBundler.read(root + "/" + rel) else { return [] }
            return info.needed
        }
        // The interpreter's own libraries, and theirs, are eager.
        var core = Set<String>(), queue = coreObjects
        while let o = queue.popLast() {
            for n in needed(o) where libs[n] != nil && !core.contains(n) { core.insert(n); queue.append("lib/" + n) }
        }
        for n in core { keyOf["lib/" + n] = nil }
        for (rel, label) in extObjects + libs.keys.filter({ !core.contains($0) }).map({ ("lib/" + $0, "lib:" + $0) }) {
            for n in needed(rel) where libs[n] != nil && !core.contains(n) { groups.union(label, "lib:" + n) }
        }
        var units = [String: Unit]()
        for (rel, label) in keyOf.sorted(by: { $0.key < $1.key }) {
            let r = groups.find(label)
            var u = units[r] ?? Unit()
            if !u.labels.contains(label) { u.labels.append(label) }
            u.files.append(rel)
            if label.hasPrefix("std:"), isModuleName(String(label.dropFirst(4))) { u.names.insert(String(label.dropFirst(4))) }
            u.bytes += (try? FS.lstat(root + "/" + rel).size) ?? 0
            units[r] = u
        }
        // A unit without an importable name (a stray data file) stays eager: no import asks for it.
        return units.filter { !$0.value.names.isEmpty }
    }

    // MARK: the split

    /// Decides eager and lazy from `imported`, stages the lazy slots under `stage/lazy/`, moves the
    /// lazy distributions out of `site`, and makes the eager runtime tree with the hook in it.
    static func split(runtime: StagedRuntime, site: String, app: String, stage: String, imported: Set<String>, frozen: Set<String>,
                      firstSlot: Int, log: (String) -> Void) throws(BuildError) -> Split {
        var eagerNeeds = Set<String>()
        for rel in try Tree.files(app) where rel.contains(".so") && LibraryBundler.isELF(app + "/" + rel) {
            eagerNeeds.formUnion((try? LibraryBundler.read(app + "/" + rel))?.needed ?? [])
        }
        let short = runtime.interpreter.short
        let lazyRoot = stage + "/lazy"
        var lazy = [LazySlot]()

        /// Slot ids: a distribution unit is named after its distributions, a stdlib unit after its modules.
        func plan(_ units: [String: Unit], prefix: String) -> [(id: String, units: [Unit])] {
            var big = [(String, [Unit])](), small = [Unit]()
            for (_, u) in units.sorted(by: { $0.key < $1.key }) where u.names.isDisjoint(with: imported) {
                if u.bytes < smallUnitBytes { small.append(u) } else {
                    let label = (prefix == "dist-" || u.names.isEmpty ? u.labels.map { String($0.split(separator: ":").last ?? "") } : u.names.sorted())
                        .joined(separator: "+")
                    big.append((prefix + label, [u]))
                }
            }
            if !small.isEmpty { big.append((prefix + "small", small)) }
            return big
        }

        // The standard library: copied out of the cached runtime (which other builds share).
        let std = try stdlibUnits(runtime.pythonStaged, short: short)
        var lazyStdFiles = Set<String>()
        for (id, units) in plan(std, prefix: "stdlib-") {
            let files = Set(units.flatMap(\.files))
            lazyStdFiles.formUnion(files)
            let dir = lazyRoot + "/" + id
            try Tree.copy(runtime.pythonStaged, dir) { rel, isDir in !isDir && !files.contains(rel) }
            Tree.pruneEmpty(dir)
            lazy.append(LazySlot(id: id, source: dir, target: "python", modules: units.flatMap(\.names).filter { !frozen.contains($0) }.sorted(),
                                 bytes: units.reduce(0) { $0 + $1.bytes }))
        }
        let python = stage + "/python"
        try Tree.copy(runtime.pythonStaged, python) { rel, isDir in !isDir && lazyStdFiles.contains(rel) }
        Tree.pruneEmpty(python)

        // site-packages: the lazy distributions' files move out of the stage.
        let dists = try distributionUnits(site, eagerNeeds: eagerNeeds)
        for (id, units) in plan(dists, prefix: "dist-") {
            let dir = lazyRoot + "/" + id
            do { try FS.mkdirs(dir, 0o755) } catch { throw BuildError("\(dir): \(error.reason)") }
            for u in units { for rel in u.files { try Tree.move(rel, from: site, to: dir) } }
            lazy.append(LazySlot(id: id, source: dir, target: runtime.siteFinal, modules: units.flatMap(\.names).sorted(),
                                 bytes: units.reduce(0) { $0 + $1.bytes }))
        }
        Tree.pruneEmpty(site)
        do { try FS.mkdirs(site, 0o755) } catch { throw BuildError("\(site): \(error.reason)") }

        // A name may be in two lazy slots (a distribution shadowing a stdlib module): the hook extracts both.
        var table = [String: [Int]]()
        for (k, s) in lazy.enumerated() { for m in s.modules { table[m, default: []].append(firstSlot + k) } }
        if !lazy.isEmpty {
            try writeHook(into: python + "/" + String(runtime.siteFinal.dropFirst("python/".count)), runtime: runtime, table: table)
        }
        return Split(pythonSource: python, lazy: lazy)
    }

    /// What the bundled interpreter says about its modules: `frozen` (built in or frozen, imported
    /// without a file, so never a reason to extract) and `startupCodecs` (every codec a locale can
    /// name, and the C modules of the multibyte ones: the interpreter imports its locale's codec
    /// before site runs, so before the hook exists, and cannot start without it).
    static func interpreterFacts(_ runtime: StagedRuntime) throws(BuildError) -> (frozen: Set<String>, startupCodecs: Set<String>) {
        let code = """
            import sys, _imp, locale, encodings, encodings.aliases as aliases
            frozen = set(sys.builtin_module_names) | set(getattr(_imp, "_frozen_module_names", lambda: [])())
            codecs = {"_multibytecodec", "_codecs_cn", "_codecs_hk", "_codecs_iso2022", "_codecs_jp", "_codecs_kr", "_codecs_tw"}
            for v in locale.locale_alias.values():
                enc = v.partition(".")[2].partition("@")[0]
                if enc:
                    n = encodings.normalize_encoding(enc).lower()
                    codecs.add("encodings." + aliases.aliases.get(n, n))
            for n in sorted(frozen): print("frozen", n)
            for n in sorted(codecs): print("codec", n)
            """
        let r = try Subprocess.run([runtime.executableStaged, "-I", "-S", "-B", "-c", code], env: ["PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"])
        guard r.status == 0 else { throw BuildError("asking the bundled interpreter about its modules failed:\n\(r.tail())") }
        var frozen = Set<String>(), codecs = Set<String>()
        for line in r.stdoutText.split(whereSeparator: { $0.isNewline }) {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { continue }
            if parts[0] == "frozen" { frozen.insert(String(parts[1])) } else { codecs.insert(String(parts[1])) }
        }
        return (frozen, codecs)
    }

    // MARK: the hook

    /// `_flavor_lazy.py` with its table, and the `.pth` line that imports it when site runs.
    static func writeHook(into dir: String, runtime: StagedRuntime, table: [String: [Int]]) throws(BuildError) {
        let entries = table.sorted { $0.key < $1.key }
            .map { "    \"\($0.key)\": (\($0.value.map(String.init).joined(separator: ", ")),)," }.joined(separator: "\n")
        let source = hookSource
            .replacing("@RELATIVE@", with: runtime.siteFinal + "/" + hookModule + ".py")
            .replacing("@TABLE@", with: entries)
        do {
            try FS.mkdirs(dir, 0o755)
            try FS.writeFileAtomically(dir + "/" + hookModule + ".py", Array(source.utf8), mode: 0o644)
            try FS.writeFileAtomically(dir + "/" + hookModule + ".pth", Array("import \(hookModule)\n".utf8), mode: 0o644)
        } catch { throw BuildError("writing the import hook into \(dir): \(error.reason)") }
        try StagedRuntime.compile(runtime.executableStaged, dir, as: String(runtime.siteFinal.dropFirst("python/".count))) { _ in }
    }

    static let hookSource = #"""
        """Flavor's progressive import hook (written by flavor pack; imported by _flavor_lazy.pth).

        The first import of a module that a lazy slot holds (a top-level name, or a submodule of a
        package split by submodule, such as encodings.cp1252) asks the package's launcher to
        extract that slot (`FLAVOR_LAUNCHER_CLI=1 <package> ensure N`: under the workenv lock, verified,
        published atomically), then lets the normal import go on. Idle unless FLAVOR_LAZY_SLOTS names
        this workenv's slot markers, which only Flavor's launcher sets: under another launcher every
        slot was extracted at the first launch.
        """
        import os
        import sys

        _RELATIVE = "@RELATIVE@"
        _SLOTS = {
        @TABLE@
        }


        class LazySlotFinder:
            def __init__(self, slots_dir, package):
                import _thread
                self._slots_dir = slots_dir
                self._package = package
                self._pending = dict(_SLOTS)
                self._done = set()
                self._lock = _thread.allocate_lock()

            def find_spec(self, name, path=None, target=None):
                if name not in self._pending:
                    return None
                with self._lock:
                    slots = self._pending.pop(name, ())
                    missing = [s for s in slots if s not in self._done
                               and not os.path.exists("%s/%d.ready" % (self._slots_dir, s))]
                    try:
                        for slot in missing:
                            self._ensure(slot, name)
                    except ImportError:
                        self._pending[name] = slots
                        raise
                    self._done.update(slots)
                    if missing:
                        # The path finders cache directory listings (by mtime, which may not have moved).
                        for finder in list(sys.path_importer_cache.values()):
                            if hasattr(finder, "invalidate_caches"):
                                finder.invalidate_caches()
                return None

            def _ensure(self, slot, name):
                env = dict(os.environ)
                env["FLAVOR_LAUNCHER_CLI"] = "1"
                r, w = os.pipe()
                try:
                    pid = os.posix_spawn(self._package, [self._package, "ensure", str(slot)], env, file_actions=[
                        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                        (os.POSIX_SPAWN_DUP2, w, 2),
                    ])
                except OSError as e:
                    os.close(r)
                    raise ImportError("%s is in lazy slot %d of %s, which could not be extracted: %s"
                                      % (name, slot, self._package, e), name=name) from None
                finally:
                    os.close(w)
                chunks = []
                while True:
                    b = os.read(r, 65536)
                    if not b:
                        break
                    chunks.append(b)
                os.close(r)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                text = b"".join(chunks)
                if code == 0:
                    if text:
                        os.write(2, text)   # what FLAVOR_LOG_LEVEL asked the launcher to say
                    return
                msg = text.decode("utf-8", "replace").strip() or "exit status %d" % code
                raise ImportError("%s is in lazy slot %d of %s, which could not be extracted: %s"
                                  % (name, slot, self._package, msg), name=name)


        def _install():
            slots_dir = os.environ.get("FLAVOR_LAZY_SLOTS")
            package = os.environ.get("FLAVOR_PACKAGE")
            here = __file__
            if not slots_dir or not package or not here.endswith("/" + _RELATIVE):
                return
            head, name = os.path.split(here[: -len(_RELATIVE) - 1])
            if slots_dir != "%s/.%s.pspf/instance/slots" % (head, name):
                return
            sys.meta_path.insert(0, LazySlotFinder(slots_dir, package))


        _install()
        """#
}
