import Glibc
import FlavorBuild
import FlavorEngine
import FlavorFormat
import FlavorSys

/// `flavor pack` for a pyproject.toml: the project and its dependencies installed and
/// byte-compiled at build time, a relocatable copy of the interpreter with the shared libraries
/// it needs, three slots (runtime, dependencies, the app's own code), one signed file.
public enum PythonBuild {
    public struct Options: Sendable {
        public var project: String              // path of pyproject.toml
        public var output: String?
        public var python: String?              // interpreter, prefix, or python-build-standalone .tar.gz
        public var findLinks: [String] = []
        public var noIndex = false
        public var keepStdlibExtras: Bool?
        public var stdlibSources: Bool?
        public var strip: Bool?
        public var progressive: Bool?
        /// The attestation slot (SBOM + provenance); `--no-attestation` leaves it out.
        public var attestation = true
        public var cacheDir: String             // where staged runtimes are kept between builds
        public var manifest: Manifest.Options
        public var settings: Settings
        public init(project: String, cacheDir: String, manifest: Manifest.Options, settings: Settings) {
            self.project = project; self.cacheDir = cacheDir; self.manifest = manifest; self.settings = settings
        }
    }

    public struct Summary: Sendable {
        public var package: PackResult
        public var name: String
        public var version: String
        public var python: String
        public var entryPoint: String
        public var newestGlibc: String?
        public var bundledLibraries: [String]
        public var inputBytes: Int
        public var seconds: Double
        public var steps: [(String, Double)]
    }

    /// The step names in the order progress reports them.
    public static let steps = ["resolve", "bundle runtime", "install", "compile", "compress", "sign"]

    public static func pack(_ o: Options, progress: @escaping (String) -> Void) throws(BuildError) -> Summary {
        let t0 = MonotonicClock.now()
        var timings = [(String, Double)]()
        var tStep = t0
        func step(_ k: Int) {
            let now = MonotonicClock.now()
            if k > 0 { timings.append((steps[k - 1], now - tStep)) }
            tStep = now
            if k < steps.count { progress("[\(k + 1)/\(steps.count)] \(steps[k])") }
        }

        step(0)
        let project = try PyProject.load(o.project)
        let name = project.packageName ?? project.name
        let output = o.output ?? project.directory + "/dist/" + name + ".psp"
        let interp = try resolveInterpreter(o.python ?? project.python, relativeTo: project.directory, cacheDir: o.cacheDir, log: progress)
        progress("  \(project.name) \(project.version), CPython \(interp.version) (\(interp.executable))")

        step(1)
        var rtOptions = StagedRuntime.Options(cacheDir: o.cacheDir)
        rtOptions.strip = o.strip ?? project.strip
        rtOptions.keepStdlibExtras = o.keepStdlibExtras ?? project.keepStdlibExtras
        rtOptions.stdlibSources = o.stdlibSources ?? project.stdlibSources
        let runtime = try StagedRuntime.make(interp, options: rtOptions) { progress("  " + $0) }

        let outDir = parentDirectory(output)
        do { try FS.mkdirs(outDir, 0o755) } catch { throw BuildError("cannot create \(outDir): \(error.reason)") }
        let stage = outDir + "/.flavor-build-\(getpid())"
        try? FS.removeTree(stage)
        do { try FS.mkdirs(stage, 0o700) } catch { throw BuildError("cannot create \(stage): \(error.reason)") }
        defer { try? FS.removeTree(stage) }
        let site = stage + "/site-packages", app = stage + "/app"

        step(2)
        guard interp.hasPip else { throw BuildError("\(interp.executable) has no pip: install pip for it, or pass --python with one that has") }
        try install(project, interp: interp, into: site, findLinks: o.findLinks, noIndex: o.noIndex)
        try splitApp(project, site: site, app: app)
        for pattern in project.exclude {
            for root in [site, app] {
                for rel in try Tree.files(root) where Tree.matches(pattern, rel) { _ = unlink(root + "/" + rel) }
            }
        }
        Tree.pruneEmpty(site)
        do { try FS.mkdirs(site, 0o755) } catch { throw BuildError("\(site): \(error.reason)") }
        let entry = try resolveEntryPoint(project, runtime: runtime, site: site, app: app)
        progress("  entry point \(entry.module):\(entry.attribute)")

        step(3)
        try StagedRuntime.compile(runtime.executableStaged, site, as: runtime.siteFinal) { progress("  " + $0) }
        try StagedRuntime.compile(runtime.executableStaged, app, as: runtime.siteFinal) { progress("  " + $0) }
        // Extension modules of the dependencies: the libraries they need beyond glibc, and RUNPATHs.
        var bundler = LibraryBundler(bundleStaged: site + "/flavor.libs", bundleFinal: runtime.siteFinal + "/flavor.libs",
                                     available: [(runtime.pythonStaged + "/lib", "python/lib")], strip: rtOptions.strip) { progress("  " + $0) }
        var objects = [LibraryBundler.Object]()
        for root in [site, app] {
            for rel in try Tree.files(root) where (rel.hasSuffix(".so") || rel.contains(".so.")) && LibraryBundler.isELF(root + "/" + rel) {
                objects.append(.init(staged: root + "/" + rel, final: runtime.siteFinal + "/" + rel, originDir: parentDirectory(root + "/" + rel),
                                     strippable: false))
            }
        }
        try bundler.process(objects)
        // Before the progressive split moves files: the SBOM hashes the bundled copies where they are.
        let sbomLibraries = runtime.bundledLibraries.map { PythonSBOM.Library(name: $0, host: runtime.librarySources[$0] ?? "", staged: runtime.pythonStaged + "/lib/" + $0) }
            + bundler.copied.map { PythonSBOM.Library(name: $0, host: bundler.copiedFrom[$0] ?? "", staged: site + "/flavor.libs/" + $0) }
        let attestation = o.attestation ? try PythonSBOM.attestation(project: project, runtime: runtime, roots: [site, app], libraries: sbomLibraries) : nil
        let glibc = [runtime.newestGlibc.flatMap { GlibcVersion($0) }, bundler.newestGlibc].compactMap { $0 }.max()

        // Progressive: what the startup profile imports is eager, every other part a lazy slot.
        var split: Progressive.Split?
        if o.progressive ?? project.progressive {
            let scratch = stage + "/profile"
            do { try FS.mkdirs(scratch, 0o700) } catch { throw BuildError("\(scratch): \(error.reason)") }
            let facts = try Progressive.interpreterFacts(runtime)
            let profiled = try Progressive.profile(runtime, site: site, app: app, entry: entry, runs: project.startup, scratch: scratch) { progress("  " + $0) }
            let imported = profiled.union(facts.startupCodecs)
            try? FS.removeTree(scratch)
            let s = try Progressive.split(runtime: runtime, site: site, app: app, stage: stage, imported: imported, frozen: facts.frozen,
                                          firstSlot: 3 + project.extraSlots.count) { progress("  " + $0) }
            let lazyBytes = s.lazy.reduce(0) { $0 + $1.bytes }
            progress("  progressive: \(profiled.count) modules imported at startup; \(s.lazy.count) lazy slots (\(lazyBytes >> 10) KiB) extracted when first imported")
            split = s
        }

        step(4)
        var plan = try makePlan(project, name: name, runtime: runtime, entry: entry, site: site, app: app,
                                pythonSource: split?.pythonSource ?? runtime.pythonStaged, lazy: split?.lazy ?? [], options: o.manifest)
        plan.minGlibc = glibc?.description
        plan.attestation = attestation
        let inputBytes = plan.slots.reduce(0) { total, s in
            if case let .directory(d) = s.content { return total + ((try? Tree.files(d))?.reduce(0) { $0 + ((try? FS.lstat(d + "/" + $1).size) ?? 0) } ?? 0) }
            return total
        }
        let result: PackResult
        do {
            result = try Packer.pack(plan, to: output, settings: o.settings) { msg in
                if msg.hasPrefix("encoded") { step(5) }
                progress("  " + msg)
            }
        } catch { throw BuildError(error.message) }
        step(6)
        return Summary(package: result, name: name, version: project.version, python: interp.version,
                       entryPoint: "\(entry.module):\(entry.attribute)", newestGlibc: glibc?.description,
                       bundledLibraries: runtime.bundledLibraries + bundler.copied, inputBytes: inputBytes,
                       seconds: MonotonicClock.now() - t0, steps: timings)
    }

    /// `--python`: an interpreter, an installation prefix, or a python-build-standalone
    /// `install_only` archive (unpacked once into the cache); nil: `python3` on PATH.
    static func resolveInterpreter(_ given: String?, relativeTo dir: String, cacheDir: String, log: (String) -> Void) throws(BuildError) -> Interpreter {
        guard var path = given else { return try Interpreter.inspect("python3") }
        if !path.hasPrefix("/") && path.contains("/") { path = dir + "/" + path }
        if path.hasSuffix(".tar.gz") || path.hasSuffix(".tgz") {
            guard let st = try? FS.statFollowing(path) else { throw BuildError("--python \(path): no such file") }
            var h = SHA256(); h.update(Array("\(FS.realPath(path) ?? path)|\(st.size)|\(st.mtime)".utf8))
            let dest = cacheDir + "/archive-" + String(hex(bytes: h.finalize()).prefix(16))
            if !FS.exists(dest + "/python/bin/python3") {
                let tmp = dest + ".tmp-\(getpid())"
                try? FS.removeTree(tmp)
                do { try FS.mkdirs(tmp, 0o755) } catch { throw BuildError("cannot create \(tmp): \(error.reason)") }
                log("  unpacking \(path)")
                let r = try Subprocess.run(["tar", "-xzf", path, "-C", tmp])
                guard r.status == 0, FS.exists(tmp + "/python/bin/python3") else {
                    try? FS.removeTree(tmp)
                    throw BuildError("--python \(path): not a python-build-standalone install_only archive (want python/bin/python3 inside)\(r.status == 0 ? "" : ": " + r.tail(3))")
                }
                try? FS.removeTree(dest)
                do { try FS.rename(tmp, dest) } catch { throw BuildError("\(dest): \(error.reason)") }
            }
            path = dest + "/python/bin/python3"
        } else if FS.isDirectory(path) {
            guard let exe = ["/bin/python3", "/bin/python"].map({ path + $0 }).first(where: Exec.isExecutable) else {
                throw BuildError("--python \(path): a directory without bin/python3 (give an interpreter, a prefix or a .tar.gz)")
            }
            path = exe
        } else if !FS.exists(path) && given!.contains("/") {
            throw BuildError("--python \(path): no such file")
        }
        return try Interpreter.inspect(path)
    }

    /// pip installs the project (with its extras) and its dependencies into `dir`. pip's own
    /// configuration (pip.conf, PIP_INDEX_URL, ...) applies; --find-links and --no-index pass through.
    static func install(_ p: PyProject, interp: Interpreter, into dir: String, findLinks: [String], noIndex: Bool) throws(BuildError) {
        var args = [interp.executable, "-I", "-m", "pip", "install", "--no-compile", "--no-warn-script-location",
                    "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--target", dir]
        for f in findLinks { args += ["--find-links", f] }
        if noIndex { args.append("--no-index") }
        args.append(p.directory + (p.extras.isEmpty ? "" : "[" + p.extras.joined(separator: ",") + "]"))
        // Settings that would send the install elsewhere are dropped; the rest of pip's configuration stays.
        let dropped = ["PIP_TARGET=", "PIP_PREFIX=", "PIP_ROOT=", "PIP_USER=", "PIP_REQUIRE_VIRTUALENV=", "PYTHONPATH=", "PYTHONHOME="]
        let env = Env.all().filter { e in !dropped.contains { e.hasPrefix($0) } }
        let r = try Subprocess.run(args, env: env, cwd: p.directory)
        guard r.status == 0 else {
            throw BuildError("\(p.file): pip could not install the project and its dependencies (exit \(r.status)):\n\(pipReason(r))")
        }
        // Console scripts pip wrote point at the build interpreter; the package runs its own entry.
        try? FS.removeTree(dir + "/bin")
    }

    /// pip's ERROR lines (its reason), else its last lines.
    static func pipReason(_ r: Subprocess.Result) -> String {
        let lines = (r.stderrText + "\n" + r.stdoutText).split(whereSeparator: { $0.isNewline })
        let errors = lines.filter { $0.hasPrefix("ERROR") || $0.contains("error:") }
        return (errors.isEmpty ? Array(lines.suffix(12)) : Array(errors.suffix(8))).joined(separator: "\n")
    }

    /// Moves the project's own files (its dist-info RECORD) from `site` to `app`, its own slot.
    static func splitApp(_ p: PyProject, site: String, app: String) throws(BuildError) {
        let norm = normalize(p.name)
        let names = (try? FS.listDirectory(site)) ?? []
        guard let distInfo = names.first(where: { n in
            n.hasSuffix(".dist-info") && normalize(String(n.prefix(while: { $0 != "-" }))) == norm
        }) else { throw BuildError("\(p.file): pip installed no \(norm)-*.dist-info for the project") }
        do { try FS.mkdirs(app, 0o755) } catch { throw BuildError("\(app): \(error.reason)") }
        for path in try recordPaths(site + "/" + distInfo) where FS.exists(site + "/" + path) {
            try Tree.move(path, from: site, to: app)
        }
        Tree.pruneEmpty(site)
        Tree.pruneEmpty(app)
    }

    /// The files a `.dist-info/RECORD` lists inside the install directory (not `bin/`, nothing outside).
    static func recordPaths(_ distInfo: String) throws(BuildError) -> [String] {
        let record: [UInt8]
        do { record = try FS.readFile(distInfo + "/RECORD", limit: 64 << 20) } catch {
            throw BuildError("\(distInfo)/RECORD: \(error.reason)")
        }
        var out = [String]()
        // pip writes RECORD with csv's "\r\n" (one Character in Swift): split the bytes.
        for line in record.split(separator: UInt8(ascii: "\n")) {
            var path = String(decoding: line, as: UTF8.self).trimmingWhitespace()
            if path.hasPrefix("\"") {
                path = String(path.dropFirst().prefix(while: { $0 != "\"" }))
            } else if let comma = path.firstIndex(of: ",") {
                path = String(path[..<comma])
            }
            if path.isEmpty || path.hasPrefix("../") || path.hasPrefix("/") || path.hasPrefix("bin/") || path.contains("/../") { continue }
            out.append(path)
        }
        return out
    }

    static func normalize(_ name: String) -> String {
        var out = "", lastSep = false
        for c in name.lowercased() {
            if c == "-" || c == "_" || c == "." { if !lastSep { out.append("_") }; lastSep = true } else { out.append(c); lastSep = false }
        }
        return out
    }

    struct EntryPoint { var module: String; var attribute: String; var scriptName: String }

    static let entryCheck = """
        import sys, site, json, importlib, importlib.metadata as md
        site_dir, app_dir, spec, default = sys.argv[1:5]
        site.addsitedir(site_dir); site.addsitedir(app_dir)
        name = spec or default
        def fail(msg):
            print(json.dumps({"error": msg})); sys.exit(0)
        if ":" not in name:
            eps = [e for e in md.entry_points(group="console_scripts") if e.name == name]
            if not eps:
                fail("no console script named %r in the project or its dependencies; use \\"module:function\\"" % name)
            value = eps[0].value
        else:
            value = name
        mod, _, attr = value.partition(":")
        mod, attr = mod.strip(), attr.split("[")[0].strip()
        if not mod or not attr:
            fail("%r is not \\"module:function\\"" % value)
        try:
            obj = importlib.import_module(mod)
        except BaseException as e:
            fail("cannot import module %s: %s: %s" % (mod, type(e).__name__, e))
        for part in attr.split("."):
            if not hasattr(obj, part):
                fail("module %s has no attribute %s" % (mod, attr))
            obj = getattr(obj, part)
        if not callable(obj):
            fail("%s:%s is not callable" % (mod, attr))
        print(json.dumps({"module": mod, "attribute": attr, "script": name if ":" not in name else mod.split(".")[0]}))
        """

    /// The entry point, checked by importing it with the bundled interpreter in the staged tree.
    static func resolveEntryPoint(_ p: PyProject, runtime: StagedRuntime, site: String, app: String) throws(BuildError) -> EntryPoint {
        let fallback = p.scripts.first?.name ?? ""
        guard p.entryPoint != nil || !fallback.isEmpty else {
            throw BuildError("\(p.file): no entry point: set [tool.flavor] entry_point = \"module:function\" (or a script name), or add [project.scripts]")
        }
        let r = try Subprocess.run([runtime.executableStaged, "-I", "-S", "-B", "-c", entryCheck, site, app, p.entryPoint ?? "", fallback],
                                   env: ["PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "HOME=" + site], cwd: site)
        guard r.status == 0, let j = try? JSONValue.parse(Array(r.stdout.split(separator: UInt8(ascii: "\n")).last ?? [])) else {
            throw BuildError("\(p.file): checking the entry point failed (exit \(r.status)):\n\(r.tail())")
        }
        if let e = j["error"]?.stringValue {
            throw BuildError("\(p.file): entry point \(p.entryPoint ?? fallback): \(e)")
        }
        guard let m = j["module"]?.stringValue, let a = j["attribute"]?.stringValue else {
            throw BuildError("\(p.file): unexpected answer from the entry-point check: \(r.stdoutText)")
        }
        return EntryPoint(module: m, attribute: a, scriptName: j["script"]?.stringValue ?? p.name)
    }

    /// Settings a host Python reads that must not reach the bundled one (upstream's list and more).
    public static let hostPythonVariables = [
        "PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONEXECUTABLE", "PYTHONPLATLIBDIR",
        "PYTHONNOUSERSITE", "PYTHONSAFEPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "__PYVENV_LAUNCHER__",
        "UV_PROJECT_ENVIRONMENT", "UV_CACHE_DIR",
    ]

    static func makePlan(_ p: PyProject, name: String, runtime: StagedRuntime, entry: EntryPoint, site: String, app: String,
                         pythonSource: String, lazy: [Progressive.LazySlot], options: Manifest.Options) throws(BuildError) -> PackPlan {
        let call = entry.attribute.split(separator: ".").first.map(String.init) ?? entry.attribute
        // -s: no user site; -B: the workenv is never written to. sys.path[0] is "" for -c (the
        // user's directory): removed before the app imports anything. argv[0] is the script name,
        // as a console script shows it in usage lines.
        // Upstream 0.5.4 launchers exec the interpreter with argv[0] = the package's name, from which
        // CPython would look for its library on the host: PYTHONHOME ({slot:0}, the one placeholder
        // both expand in execution.env) points it home, and goes before the app can pass it on.
        let upstreamLauncher = !isFlavorLauncher(options.launcherPath)
        let code = "import sys; sys.path[0] == '' and sys.path.pop(0); sys.argv[0] = '\(entry.scriptName)'; "
            + (upstreamLauncher ? "import os; os.environ.pop('PYTHONHOME', None); " : "")
            + "from \(entry.module) import \(call); sys.exit(\(entry.attribute)())"
        let command = "{workenv}/\(runtime.executableFinal) -s -B -c \"\(code)\""
        var unset = p.runtimeEnv.isolated ? hostPythonVariables : []
        for u in p.runtimeEnv.unset where !unset.contains(u) { unset.append(u) }
        func table(_ pairs: [(String, String)]) -> JSONValue { .object(pairs.map { ($0.0, .string($0.1)) }) }
        var runtimeEnv: [(String, JSONValue)] = [("unset", .array(unset.map { .string($0) }))]
        if !p.runtimeEnv.pass.isEmpty { runtimeEnv.append(("pass", .array(p.runtimeEnv.pass.map { .string($0) }))) }
        if !p.runtimeEnv.set.isEmpty { runtimeEnv.append(("set", table(p.runtimeEnv.set))) }
        if !p.runtimeEnv.map.isEmpty { runtimeEnv.append(("map", table(p.runtimeEnv.map))) }

        func slot(_ i: Int, _ id: String, _ source: String, _ target: String, _ purpose: String, lifecycle: String = "runtime") -> JSONValue {
            .object([("slot", .int(Int64(i))), ("id", .string(id)), ("source", .string(source)), ("target", .string(target)),
                     ("operations", .string("tgz")), ("purpose", .string(purpose)), ("lifecycle", .string(lifecycle))])
        }
        var slots = [slot(0, "python", pythonSource, "python", "runtime"),
                     slot(1, "site-packages", site, runtime.siteFinal, "payload"),
                     slot(2, "app", app, runtime.siteFinal, "payload")]
        for (k, extra) in p.extraSlots.enumerated() {
            // Positions are ours: the user's slots follow the three of the build.
            let fields = (extra.objectValue ?? []).filter { $0.0 != "slot" }
            slots.append(.object([("slot", .int(Int64(3 + k)))] + fields))
        }
        let firstLazy = slots.count
        for (k, l) in lazy.enumerated() { slots.append(slot(firstLazy + k, l.id, l.source, l.target, "payload", lifecycle: "lazy")) }
        var package: [(String, JSONValue)] = [("name", .string(name)), ("version", .string(p.version))]
        if let d = p.description { package.append(("description", .string(d))) }
        let manifest = JSONValue.object([
            ("package", .object(package)),
            ("execution", .object([("command", .string(command)),
                                   ("env", table(p.env + (upstreamLauncher ? [("PYTHONHOME", "{slot:0}")] : [])))])),
            ("runtime", .object([("env", .object(runtimeEnv)),
                                 ("python", .object([("version", .string(runtime.interpreter.version)),
                                                     ("interpreter", .string("{workenv}/" + runtime.executableFinal))]))])),
            ("slots", .array(slots)),
        ])
        var plan = try Manifest.plan(manifest, file: p.file, baseDir: p.directory, options: options)
        // Our launcher extracts symlink members (bin/python3 → python3.11); upstream 0.5.4 launchers
        // refuse them, so for those a link is stored as the file it points at.
        plan.preserveSymlinks = !upstreamLauncher
        // The metadata names the build's parts, not the temporary directories they were staged in
        // (which would make every build differ).
        for (k, id) in ["python", "site-packages", "app"].enumerated() { plan.slots[k].source = "flavor-build/" + id }
        for (k, l) in lazy.enumerated() {
            plan.slots[firstLazy + k].source = "flavor-build/lazy/" + l.id
            // A lazy slot is extracted on its own: cut finer, so that its ensure uses every core.
            plan.slots[firstLazy + k].shardBytes = Progressive.lazyShardBytes
        }
        return plan
    }
}

/// Whether the launcher binary at `path` is Flavor's own: its usage text is in it.
func isFlavorLauncher(_ path: String) -> Bool {
    guard let bytes = try? FS.readFile(path, limit: 256 << 20) else { return false }
    let needle = Array(Launch.identity.utf8)
    guard let first = needle.first, bytes.count >= needle.count else { return false }
    var i = 0
    let end = bytes.count - needle.count
    while i <= end {
        if bytes[i] == first && bytes[i..<(i + needle.count)].elementsEqual(needle) { return true }
        i += 1
    }
    return false
}
