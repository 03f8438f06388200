import Foundation
import Testing

/// Python apps packed from pyproject.toml (issue 10): the packed app gives, byte for byte, what
/// the same tool gives run from a plain venv; it runs with nothing of the host's Python; bad
/// projects fail with the file and the reason and leave nothing behind.
enum PythonFixtures {
    static let cacheRoot = Tools.repoRoot + "/.cache/test-python"
    /// Staged runtimes are reused across the suite's passes (FLAVOR_BUILD_CACHE).
    static let buildCache = cacheRoot + "/build-cache"
    static let example = Tools.repoRoot + "/examples/pyapp"
    static let readme = Tools.repoRoot + "/examples/pyapp/README.md"

    /// The example packed once per test process (the launcher under test prepended).
    static let packedExample: Result<String, Error> = Result {
        let out = cacheRoot + "/packed-\(getpid())/wordstats.psp"
        try pythonPack(project: example, output: out)
        return out
    }

    /// The pygmentize project: no code of its own, pygments' console script as the entry point.
    static let pygmentizeProject: Result<String, Error> = Result {
        let dir = cacheRoot + "/pygmentize-project"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "pygmentize-app"
            version = "1.0.0"
            dependencies = ["pygments==2.19.1"]

            [tool.setuptools]
            packages = []

            [tool.flavor]
            entry_point = "pygmentize"

            """.write(toFile: dir + "/pyproject.toml", atomically: true, encoding: .utf8)
        return dir
    }

    static let packedPygmentize: Result<String, Error> = Result {
        let out = cacheRoot + "/packed-\(getpid())/pygmentize.psp"
        try pythonPack(project: try pygmentizeProject.get(), output: out)
        return out
    }

    /// A plain venv with `project` installed: the floor every packed run is compared with.
    static func venv(_ name: String, project: String) throws -> String {
        let dir = cacheRoot + "/venv-" + name
        let marker = dir + "/.complete"
        if FileManager.default.fileExists(atPath: marker) { return dir }
        try? FileManager.default.removeItem(atPath: dir)
        var r = try run("/usr/bin/env", ["python3", "-m", "venv", dir])
        try #require(r.status == 0, "venv: \(r.output)")
        r = try run(dir + "/bin/python", ["-m", "pip", "install", "-q", "--disable-pip-version-check", project])
        try #require(r.status == 0, "pip install \(project): \(r.output)")
        _ = FileManager.default.createFile(atPath: marker, contents: Data())
        return dir
    }

    static let exampleVenv: Result<String, Error> = Result { try venv("wordstats", project: example) }
    static let pygmentizeVenv: Result<String, Error> = Result { try venv("pygmentize", project: try pygmentizeProject.get()) }

    /// An archive in python-build-standalone's `install_only` layout (`python/bin/python3.11`,
    /// `python/lib/…`, pip in site-packages, RUNPATH `$ORIGIN/../lib`), made from the host's CPython
    /// (no such download is reachable here).
    static let installOnlyArchive: Result<String, Error> = Result {
        let out = cacheRoot + "/cpython-install_only.tar.gz"
        if FileManager.default.fileExists(atPath: out) { return out }
        let script = """
            set -eu
            P=$(python3 -c 'import sys; print(sys.base_prefix)'); V=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
            T="$1.tmp"; rm -rf "$T"; mkdir -p "$T/python/bin" "$T/python/lib/python$V/site-packages"
            cp "$P/bin/python$V" "$T/python/bin/"; ln -s "python$V" "$T/python/bin/python3"
            tar -C "$P/lib" -cf - --exclude="python$V/site-packages" --exclude="python$V/test" --exclude="python$V/config-*" \\
                --exclude=__pycache__ --exclude=pkgconfig . | tar -C "$T/python/lib" -xf -
            tar -C "$P/lib/python$V/site-packages" -cf - --exclude=__pycache__ pip $(cd "$P/lib/python$V/site-packages" && ls -d pip-*.dist-info) \\
                | tar -C "$T/python/lib/python$V/site-packages" -xf -
            patchelf --set-rpath '$ORIGIN/../lib' "$T/python/bin/python$V"
            tar -C "$T" -czf "$1.part" python && mv "$1.part" "$1" && rm -rf "$T"
            """
        let r = try run("/bin/bash", ["-c", script, "make-archive", out])
        try #require(r.status == 0, "making \(out): \(r.output)")
        return out
    }

    /// setuptools and click as wheels, for the offline builds.
    static let wheelhouse: Result<String, Error> = Result {
        let dir = cacheRoot + "/wheelhouse"
        if FileManager.default.fileExists(atPath: dir + "/.complete") { return dir }
        let r = try run("/usr/bin/env", ["python3", "-m", "pip", "download", "-q", "--disable-pip-version-check",
                                         "--only-binary=:all:", "-d", dir, "setuptools>=61", "click>=8.1"])
        try #require(r.status == 0, "pip download: \(r.output)")
        _ = FileManager.default.createFile(atPath: dir + "/.complete", contents: Data())
        return dir
    }
}

/// `flavor pack` in a project directory (no --manifest): reads its pyproject.toml.
@discardableResult
func pythonPack(project: String, output: String?, args: [String] = [], env: [String: String] = [:], require: Bool = true) throws -> RunResult {
    var a = ["pack", "--launcher-bin", Tools.launcher, "--key-seed", "test-seed", "--quiet"]
    if let output { a += ["--output", output] }
    let r = try run(Tools.flavor, a + args, env: ["FLAVOR_BUILD_CACHE": PythonFixtures.buildCache, "SOURCE_DATE_EPOCH": "1700000000"].merging(env) { $1 },
                    cwd: project)
    if require { try #require(r.status == 0, "flavor pack in \(project) failed: \(r.output)") }
    return r
}

/// Runs with `env -i PATH=/usr/bin:/bin HOME=<home>` (plus `extra`), feeding `input` on stdin.
func runBare(_ exe: String, _ args: [String], home: String, input: String = "", extra: [String: String] = [:]) throws -> RunResult {
    try run(exe, args, env: ["PATH": "/usr/bin:/bin", "HOME": home].merging(extra) { $1 }, inheritEnv: false, input: input)
}

/// Every regular file under `dir` with its size, sorted.
func treeListing(_ dir: String) -> [String] {
    let e = FileManager.default.enumerator(atPath: dir)
    var out = [String]()
    while let rel = e?.nextObject() as? String {
        let attrs = try? FileManager.default.attributesOfItem(atPath: dir + "/" + rel)
        if attrs?[.type] as? FileAttributeType == .typeRegular { out.append("\(rel) \(attrs?[.size] as? Int ?? -1)") }
    }
    return out.sorted()
}

@Suite("Python apps from pyproject.toml", .serialized)
struct PythonAppTests {
    @Test("the packed example prints exactly what the venv install prints, cold and warm", arguments: [
        (["--top", "3", PythonFixtures.readme], ""),
        (["--json", PythonFixtures.readme], ""),
        (["--top", "1"], "the cat and the hat and the bat"),
        (["--help"], ""),
        (["--version"], ""),
        (["--fail-on-empty"], "123 456"),
        (["--no-such-option"], ""),
        (["/nonexistent/file.txt"], ""),
    ])
    func exampleMatchesVenv(_ args: [String], _ input: String) throws {
        let pkg = try PythonFixtures.packedExample.get()
        let venv = try PythonFixtures.exampleVenv.get()
        let home = TempDir("py-home")
        let expected = try runBare(venv + "/bin/wordstats", args, home: home.path, input: input)
        let cold = try runBare(pkg, args, home: home.path, input: input)
        let warm = try runBare(pkg, args, home: home.path, input: input)
        for got in [cold, warm] {
            #expect(got.stdout == expected.stdout)
            #expect(got.stderr == expected.stderr)
            #expect(got.status == expected.status)
        }
        #expect(!expected.stdout.isEmpty || !expected.stderr.isEmpty)
    }

    @Test("pygmentize from a pyproject that depends on pygments: byte-identical output", arguments: [
        ["-l", "python", "-f", "html", PythonFixtures.example + "/src/wordstats/cli.py"],
        ["-l", "python", "-f", "terminal256", "-O", "style=monokai", PythonFixtures.example + "/src/wordstats/cli.py"],
        ["-V"],
        ["-l", "no-such-lexer", PythonFixtures.readme],
        ["-H", "formatter", "html"],
    ])
    func pygmentizeMatchesVenv(_ args: [String]) throws {
        let pkg = try PythonFixtures.packedPygmentize.get()
        let venv = try PythonFixtures.pygmentizeVenv.get()
        let home = TempDir("py-home")
        let expected = try runBare(venv + "/bin/pygmentize", args, home: home.path)
        let got = try runBare(pkg, args, home: home.path)
        #expect(got.stdout == expected.stdout)
        #expect(got.stderr == expected.stderr)
        #expect(got.status == expected.status)
        #expect(expected.stdout.count + expected.stderr.count > 0)
    }

    /// CI runs as root and requires it (FLAVOR_REQUIRE=chroot); elsewhere it needs root.
    static var chrootPossible: Bool { getuid() == 0 || (ProcessInfo.processInfo.environment["FLAVOR_REQUIRE"] ?? "").contains("chroot") }

    @Test("the packed example runs in a minimal Debian root with no Python at all", .enabled(if: chrootPossible))
    func runsWithoutPython() throws {
        try #require(getuid() == 0, "the chroot test needs root")
        let made = try run(Tools.repoRoot + "/scripts/minbase-root", [])
        try #require(made.status == 0, "scripts/minbase-root: \(made.output)")
        let root = try #require(made.stdout.split(separator: "\n").last.map(String.init))
        // What earlier runs left in the root (their workenvs hold our bundled Python) goes first.
        try? FileManager.default.removeItem(atPath: root + "/root/.cache")
        try? FileManager.default.removeItem(atPath: root + "/app.psp")
        let pythons = try run("/usr/bin/find", [root, "-name", "python3*", "-o", "-name", "libpython*"])
        #expect(pythons.stdout.isEmpty, "the root has a Python: \(pythons.stdout)")
        #expect(!FileManager.default.fileExists(atPath: root + "/usr/lib/x86_64-linux-gnu/libssl.so.3"))
        let pkg = try PythonFixtures.packedExample.get()
        let venv = try PythonFixtures.exampleVenv.get()
        let text = "One fish two fish red fish blue fish\n"
        for (k, args) in [["--top", "3"], ["--json"], ["--version"]].enumerated() {
            let expected = try runBare(venv + "/bin/wordstats", args, home: TempDir("py-home").path, input: text)
            // The first run is cold (a fresh cache in the root), the others warm.
            let got = try run(Tools.repoRoot + "/scripts/minbase-run", [root, pkg] + args, env: k == 0 ? ["MINBASE_FRESH": "1"] : [:], input: text)
            #expect(got.stdout == expected.stdout)
            #expect(got.stderr == expected.stderr)
            #expect(got.status == expected.status)
        }
        let code = "import ssl, sqlite3, ctypes, lzma, bz2, zlib, sys; print(ssl.OPENSSL_VERSION.split()[0], sys.prefix.startswith('/root/.cache/flavor/'))"
        let r = try run(Tools.repoRoot + "/scripts/minbase-run", [root, pkg, "python", "-c", code],
                        env: ["FLAVOR_LAUNCHER_CLI": "1", "MINBASE_PASS": "FLAVOR_LAUNCHER_CLI"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout == "OpenSSL True\n")
    }

    @Test("the host's Python settings do not reach the bundled interpreter")
    func isolatedFromHost() throws {
        let pkg = try PythonFixtures.packedExample.get()
        let home = TempDir("py-home")
        let evil = ["PYTHONPATH": "/evil/path", "PYTHONHOME": "/evil/home", "PYTHONSTARTUP": "/evil/startup.py",
                    "PYTHONUSERBASE": "/evil/userbase", "VIRTUAL_ENV": "/evil/venv", "FLAVOR_LAUNCHER_CLI": "1"]
        let code = "import os, sys, json; print(json.dumps({'path': sys.path, 'prefix': sys.prefix, 'exe': sys.executable, "
            + "'env': {k: os.environ.get(k) for k in ['PYTHONPATH','PYTHONHOME','PYTHONSTARTUP','PYTHONUSERBASE','VIRTUAL_ENV']}, "
            + "'user_site': sys.flags.no_user_site}))"
        let r = try runBare(pkg, ["python", "-s", "-c", code], home: home.path, extra: evil)
        #expect(r.status == 0, "\(r.output)")
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let path = try #require(j["path"] as? [String])
        #expect(!path.contains { $0.hasPrefix("/evil") })
        #expect(!path.contains { $0.hasPrefix("/root/.pyenv") || $0.hasPrefix("/usr/lib/python") })
        let prefix = try #require(j["prefix"] as? String)
        #expect(prefix.hasPrefix(home.path + "/.cache/flavor/workenv/"), "\(prefix)")
        #expect((j["exe"] as? String)?.hasPrefix(prefix + "/bin/") == true)
        for (k, v) in try #require(j["env"] as? [String: Any]) { #expect(v is NSNull, "\(k) reached the app: \(v)") }
    }

    @Test("a launch never writes into the workenv (all bytecode compiled at build time)")
    func launchWritesNothing() throws {
        let pkg = try PythonFixtures.packedExample.get()
        let home = TempDir("py-home")
        // Every slot, the lazy ones too: what a launch then adds could only be written by the launch.
        _ = try runBare(pkg, ["--top", "2", PythonFixtures.readme], home: home.path, extra: ["FLAVOR_EAGER": "1"])
        let workenv = home.path + "/.cache/flavor/workenv/wordstats"
        let before = treeListing(workenv)
        #expect(before.contains { $0.hasSuffix(".cpython-311.pyc") || $0.contains(".cpython-3") })
        for args in [["--json", PythonFixtures.readme], ["--help"]] { _ = try runBare(pkg, args, home: home.path) }
        let code = "import json, email.mime.text, http.client, sqlite3, ssl, decimal, click"
        _ = try runBare(pkg, ["python", "-c", code], home: home.path, extra: ["FLAVOR_LAUNCHER_CLI": "1"])
        #expect(treeListing(workenv) == before)
    }

    @Test("the stdlib ships as bytecode only (dependencies keep their sources); --stdlib-sources keeps the stdlib's .py files")
    func sourcelessStdlib() throws {
        let fm = FileManager.default
        let failing = ["python", "-c", "import json; json.loads('{')"]
        let home = TempDir("py-home")
        let r = try runBare(try PythonFixtures.packedExample.get(), failing, home: home.path, extra: ["FLAVOR_LAUNCHER_CLI": "1"])
        // The traceback still names the stdlib file and line, without the source line.
        #expect(r.status == 1 && r.stderr.contains("json/decoder.py\", line ") && r.stderr.contains("JSONDecodeError"), "\(r.output)")
        #expect(!r.stderr.contains("self.scan_once(s, idx)"), "\(r.stderr)")
        let std = home.path + "/.cache/flavor/workenv/wordstats/python/lib/python3.11"
        #expect(fm.fileExists(atPath: std + "/json/decoder.pyc") && fm.fileExists(atPath: std + "/os.pyc"))
        #expect(!fm.fileExists(atPath: std + "/json/decoder.py") && !fm.fileExists(atPath: std + "/json/__pycache__"))
        #expect(fm.fileExists(atPath: std + "/site-packages/click/core.py"))
        #expect(fm.fileExists(atPath: std + "/site-packages/click/__pycache__/core.cpython-311.pyc"))
        let stdFiles = treeListing(std).filter { !$0.hasPrefix("site-packages/") && !$0.hasPrefix("lib-dynload/") }
        #expect(stdFiles.filter { $0.split(separator: " ")[0].hasSuffix(".py") }.count < 10, "stdlib sources left: \(stdFiles.filter { $0.contains(".py ") }.prefix(10))")

        let dir = TempDir("py-sources")
        try pythonPack(project: PythonFixtures.example, output: dir.sub("wordstats.psp"), args: ["--stdlib-sources"])
        let home2 = TempDir("py-home")
        let s = try runBare(dir.sub("wordstats.psp"), failing, home: home2.path, extra: ["FLAVOR_LAUNCHER_CLI": "1"])
        #expect(s.status == 1 && s.stderr.contains("self.scan_once(s, idx)"), "\(s.output)")
        let std2 = home2.path + "/.cache/flavor/workenv/wordstats/python/lib/python3.11"
        #expect(fm.fileExists(atPath: std2 + "/json/decoder.py") && fm.fileExists(atPath: std2 + "/json/__pycache__/decoder.cpython-311.pyc"))
    }

    @Test("exclude globs leave files out of the dependency and app slots; [tool.flavor] slots add the project's own files")
    func excludeAndExtraSlots() throws {
        let d = TempDir("py-extra")
        let proj = d.sub("proj")
        let copy = try run("/bin/bash", ["-c", "mkdir -p \"$1\" && tar -C \"$0\" -cf - --exclude=./build --exclude='*.egg-info' --exclude=./dist . | tar -C \"$1\" -xf -",
                                        PythonFixtures.example, proj])
        try #require(copy.status == 0, "\(copy.output)")
        let toml = try String(contentsOfFile: proj + "/pyproject.toml", encoding: .utf8).replacingOccurrences(of: "[tool.flavor]\n", with: """
            [tool.flavor]
            exclude = ["_winconsole.py", "click/py.typed"]
            slots = [{ id = "data", source = "data", target = "share/wordstats", operations = "tgz" }]

            """)
        try toml.write(toFile: proj + "/pyproject.toml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: proj + "/data/lists", withIntermediateDirectories: true)
        try "the\nand\n".write(toFile: proj + "/data/lists/stopwords.txt", atomically: true, encoding: .utf8)
        try pythonPack(project: proj, output: d.sub("wordstats.psp"))

        let home = TempDir("py-home")
        let r = try runBare(d.sub("wordstats.psp"), ["--top", "2", PythonFixtures.readme], home: home.path)
        #expect(r.status == 0, "\(r.output)")
        let workenv = home.path + "/.cache/flavor/workenv/wordstats"
        let click = workenv + "/python/lib/python3.11/site-packages/click"
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: click + "/core.py"))
        #expect(!fm.fileExists(atPath: click + "/_winconsole.py") && !fm.fileExists(atPath: click + "/py.typed"))
        #expect(try String(contentsOfFile: workenv + "/share/wordstats/lists/stopwords.txt", encoding: .utf8) == "the\nand\n")
        let inspect = try run(Tools.flavor, ["inspect", "--json", d.sub("wordstats.psp")])
        #expect(inspect.stdout.contains("\"data\""), "\(inspect.output)")
    }

    @Test("--python takes an install_only .tar.gz (python/bin/python3 inside), unpacked once into the build cache")
    func installOnlyArchive() throws {
        let archive = try PythonFixtures.installOnlyArchive.get()
        let dir = TempDir("py-archive")
        let cache = dir.sub("cache")
        let r = try run(Tools.flavor, ["pack", "--launcher-bin", Tools.launcher, "--key-seed", "s", "--python", archive,
                                       "--output", dir.sub("wordstats.psp")], env: ["FLAVOR_BUILD_CACHE": cache], cwd: PythonFixtures.example)
        try #require(r.status == 0, "\(r.output)")
        // The progress names the interpreter that was bundled: the one unpacked from the archive.
        #expect(r.stderr.contains("unpacking " + archive) && r.stderr.contains("(" + cache + "/archive-"), "\(r.stderr)")
        let unpacked = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasPrefix("archive-") }
        #expect(unpacked.count == 1 && !unpacked[0].contains(".tmp"), "\(unpacked)")
        let home = TempDir("py-home")
        let expected = try runBare(try PythonFixtures.exampleVenv.get() + "/bin/wordstats", ["--top", "3", PythonFixtures.readme], home: home.path)
        let got = try runBare(dir.sub("wordstats.psp"), ["--top", "3", PythonFixtures.readme], home: home.path)
        #expect(got.status == 0 && got.stdout == expected.stdout, "\(got.output)")
        // Not an archive of a Python: the reason, and nothing left in the cache.
        try Data("not a tarball".utf8).write(to: URL(fileURLWithPath: dir.sub("bad.tar.gz")))
        let bad = try run(Tools.flavor, ["pack", "--launcher-bin", Tools.launcher, "--key-seed", "s", "--python", dir.sub("bad.tar.gz"),
                                         "--output", dir.sub("bad.psp")], env: ["FLAVOR_BUILD_CACHE": cache], cwd: PythonFixtures.example)
        #expect(bad.status != 0 && bad.stderr.contains("not a python-build-standalone install_only archive"), "\(bad.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.contains(".tmp") }.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.sub("bad.psp")))
    }

    @Test("the bundled stdlib's extension modules load with no host library path (ssl, sqlite3, ctypes, lzma, bz2, zlib, curses)")
    func extensionModulesLoad() throws {
        let pkg = try PythonFixtures.packedExample.get()
        let home = TempDir("py-home")
        let code = "import ssl, sqlite3, ctypes, lzma, bz2, zlib, curses, readline, hashlib, uuid, decimal; "
            + "print(ssl.OPENSSL_VERSION.split()[0], sqlite3.sqlite_version_info >= (3,), hashlib.sha256(b'').hexdigest()[:8])"
        let r = try runBare(pkg, ["python", "-c", code], home: home.path, extra: ["FLAVOR_LAUNCHER_CLI": "1"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout == "OpenSSL True e3b0c442\n")
        // Every ELF file of the workenv finds its libraries through $ORIGIN only.
        let workenv = home.path + "/.cache/flavor/workenv/wordstats"
        let elfs = treeListing(workenv).map { String($0.split(separator: " ")[0]) }.filter { $0.hasSuffix(".so") || $0.contains(".so.") || $0.hasSuffix("bin/python3.11") }
        #expect(elfs.count > 40)
        for f in elfs {
            let d = try run("/usr/bin/readelf", ["-d", workenv + "/" + f])
            for line in d.stdout.split(separator: "\n") where line.contains("RUNPATH") || line.contains("RPATH") {
                #expect(line.contains("[$ORIGIN") && !line.contains(":/"), "\(f): \(line)")
            }
        }
    }

    @Test("Ctrl-C reaches the app as KeyboardInterrupt; exit codes and args pass through")
    func signals() throws {
        let pkg = try PythonFixtures.packedExample.get()
        let home = TempDir("py-home")
        let code = "import sys\ntry:\n    print('ready', sys.argv[1:], flush=True)\n    sys.stdin.read()\nexcept KeyboardInterrupt:\n    print('interrupted', flush=True)\n    sys.exit(42)\n"
        var inFds: [Int32] = [0, 0], outFds: [Int32] = [0, 0]
        try #require(pipe(&inFds) == 0 && pipe(&outFds) == 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inFds[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outFds[1], 1)
        for fd in [inFds[0], inFds[1], outFds[0], outFds[1]] { posix_spawn_file_actions_addclose(&actions, fd) }
        // A terminal's foreground job: SIGINT at its default and unblocked, whatever the test runner has.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var def = sigset_t(), none = sigset_t()
        sigemptyset(&def); sigaddset(&def, SIGINT); sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &def)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let words: [String] = [pkg, "python", "-c", code, "a b", "c"]
        let argv = words.map { strdup($0) } + [nil]
        let envWords: [String] = ["PATH=/usr/bin:/bin", "HOME=" + home.path, "FLAVOR_LAUNCHER_CLI=1"]
        let envp = envWords.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        var rc = posix_spawn(&pid, pkg, &actions, &attr, argv, envp)
        for _ in 0..<200 where rc == ETXTBSY { sched_yield(); rc = posix_spawn(&pid, pkg, &actions, &attr, argv, envp) }
        close(inFds[0]); close(outFds[1])
        defer { close(inFds[1]); close(outFds[0]) }
        try #require(rc == 0, "posix_spawn: \(rc)")
        func readLine() -> String {
            var line = [UInt8](), c: UInt8 = 0
            while read(outFds[0], &c, 1) == 1 { line.append(c); if c == 10 { break } }
            return String(decoding: line, as: UTF8.self)
        }
        // The app's own line: it is then inside sys.stdin.read().
        #expect(readLine() == "ready ['a b', 'c']\n")
        kill(pid, SIGINT)
        #expect(readLine() == "interrupted\n")
        let (exited, value) = waitRaw(pid)
        #expect(exited && value == 42)
    }

    @Test("rebuilds with the same key seed and SOURCE_DATE_EPOCH are byte-identical, also from a fresh runtime cache")
    func reproducible() throws {
        let dir = TempDir("py-repro")
        try pythonPack(project: PythonFixtures.example, output: dir.sub("a.psp"))
        let r = try pythonPack(project: PythonFixtures.example, output: dir.sub("b/c.psp"),
                               args: ["--find-links", try PythonFixtures.wheelhouse.get(), "--no-index"],
                               env: ["FLAVOR_BUILD_CACHE": dir.sub("fresh-cache")], require: false)
        try #require(r.status == 0, "offline pack with a fresh cache: \(r.output)")
        #expect(try readBytes(dir.sub("a.psp")) == readBytes(dir.sub("b/c.psp")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.sub("b")) == ["c.psp"])
    }

    @Test("--json gives the summary as JSON; slots are runtime, dependencies and app")
    func jsonSummary() throws {
        let dir = TempDir("py-json")
        let r = try run(Tools.flavor, ["pack", "--launcher-bin", Tools.launcher, "--key-seed", "s", "--json", "--output", dir.sub("w.psp")],
                        env: ["FLAVOR_BUILD_CACHE": PythonFixtures.buildCache], cwd: PythonFixtures.example)
        try #require(r.status == 0, "\(r.output)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(j["name"] as? String == "wordstats" && j["version"] as? String == "1.2.0")
        #expect(j["entry_point"] as? String == "wordstats.cli:main")
        #expect((j["min_glibc"] as? String)?.hasPrefix("2.") == true)
        #expect((j["bundled_libraries"] as? [String])?.contains("libpython3.11.so.1.0") == true)
        let ids = (j["slots"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(Array(ids.prefix(3)) == ["python", "site-packages", "app"])
        #expect((j["size"] as? Int ?? 0) > 1_000_000)
        let steps = try #require(j["steps"] as? [String: Any])
        #expect(Set(steps.keys) == ["resolve", "bundle runtime", "install", "compile", "compress", "sign"])
    }

    @Test("the SBOM lists every installed distribution (purl, license, RECORD hash), the interpreter and each bundled library with its Debian package; it validates",
          .enabled(if: AttestationFixtures.validatorEnabled, "CycloneDX validator not installed (scripts/fetch-python-peers)"))
    func sbomOfPythonApp() throws {
        let pkg = try PythonFixtures.packedExample.get()
        let r = try run(Tools.flavor, ["inspect", "--sbom", pkg])
        try #require(r.status == 0, "\(r.output)")
        #expect(try AttestationFixtures.schemaErrors(r.stdout) == "")
        let comps = try #require(try jsonObject(r.stdout)["components"] as? [[String: Any]])
        func named(_ n: String) -> [String: Any]? { comps.first { $0["name"] as? String == n } }
        func hash(_ c: [String: Any]?) -> String? { (c?["hashes"] as? [[String: Any]])?.first?["content"] as? String }
        // Hashes are checked against what a full extraction writes, through the system's sha256sum.
        let out = TempDir("py-sbom").sub("x")
        try #require(try run(Tools.flavor, ["extract-all", pkg, out]).status == 0)
        let site = out + "/python/lib/python3.11/site-packages"
        let click = try #require(named("click"), "click not in the SBOM")
        let version = try #require(click["version"] as? String)
        #expect(click["purl"] as? String == "pkg:pypi/click@" + version)
        #expect((click["licenses"] as? [[String: Any]])?.first?["expression"] as? String == "BSD-3-Clause")
        #expect(hash(click) == sha256Hex(try readBytes(site + "/click-\(version).dist-info/RECORD")))
        let app = try #require(named("wordstats"))
        #expect(app["version"] as? String == "1.2.0" && app["purl"] as? String == "pkg:pypi/wordstats@1.2.0")
        let cpython = try #require(named("cpython"))
        #expect((cpython["version"] as? String)?.hasPrefix("3.11.") == true)
        #expect(hash(cpython) == sha256Hex(try readBytes(out + "/python/bin/python3.11")))
        // Every bundled library is listed with the bytes that were bundled; the Debian ones with their package.
        let libs = comps.filter { ($0["bom-ref"] as? String)?.hasPrefix("lib:") == true }
        let bundled = try FileManager.default.contentsOfDirectory(atPath: out + "/python/lib").filter { $0.contains(".so") }
        #expect(Set(libs.compactMap { $0["name"] as? String }) == Set(bundled))
        for lib in libs {
            let name = try #require(lib["name"] as? String)
            #expect(hash(lib) == sha256Hex(try readBytes(out + "/python/lib/" + name)), "\(name)")
        }
        let z = try #require(named("libz.so.1"))
        let owner = try run("/usr/bin/dpkg-query", ["-W", "-f", "${Version}", "zlib1g"])
        #expect(owner.status == 0 && z["purl"] as? String == "pkg:deb/debian/zlib1g@" + owner.stdout.replacingOccurrences(of: ":", with: "%3A") + "?arch=amd64",
                "\(z["purl"] ?? "none")")
        // Provenance names the project file and the interpreter.
        let p = try jsonObject(try run(Tools.flavor, ["inspect", "--provenance", pkg]).stdout)
        let source = try #require(p["source"] as? [String: Any])
        #expect(source["manifest"] as? String == "pyproject.toml")
        #expect(source["manifest_digest"] as? String == "sha256:" + sha256Hex(try readBytes(PythonFixtures.example + "/pyproject.toml")))
        #expect((p["python"] as? [String: Any])?["version"] as? String == cpython["version"] as? String)
    }
}

@Suite("Python apps: bad projects fail clearly and leave nothing behind", .serialized)
struct PythonBadInputTests {
    /// A copy of the example with `pyproject` as its pyproject.toml.
    func project(_ pyproject: String?, extraFiles: [String: String] = [:]) throws -> TempDir {
        let d = TempDir("py-bad")
        if let pyproject { try d.write("pyproject.toml", pyproject) }
        for (rel, text) in extraFiles { try d.write(rel, text) }
        return d
    }

    func expectFailure(_ d: TempDir, args: [String] = [], contains needles: [String]) throws {
        let r = try pythonPack(project: d.path, output: nil, args: args, require: false)
        #expect(r.status != 0)
        for n in needles { #expect(r.stderr.contains(n), "missing \"\(n)\" in: \(r.stderr)") }
        #expect(r.stderr.hasPrefix("flavor: error: ") || r.stderr.contains("\nflavor: error: "), "\(r.stderr)")
        let dist = d.sub("dist")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dist)) ?? []
        #expect(left.isEmpty, "left behind in dist/: \(left)")
    }

    static let exampleTOML = (try? String(contentsOfFile: PythonFixtures.example + "/pyproject.toml", encoding: .utf8)) ?? ""
    static let exampleFiles: [String: String] = [
        "src/wordstats/__init__.py": (try? String(contentsOfFile: PythonFixtures.example + "/src/wordstats/__init__.py", encoding: .utf8)) ?? "",
        "src/wordstats/cli.py": (try? String(contentsOfFile: PythonFixtures.example + "/src/wordstats/cli.py", encoding: .utf8)) ?? "",
    ]

    @Test("no pyproject.toml")
    func noPyproject() throws {
        let d = try project(nil)
        try expectFailure(d, contains: [d.path + "/pyproject.toml", "no pyproject.toml"])
    }

    @Test("no [project] table")
    func noProject() throws {
        let d = try project("[tool.black]\nline-length = 100\n")
        try expectFailure(d, contains: [d.path + "/pyproject.toml", "no [project] table"])
    }

    @Test("an unknown [tool.flavor] key")
    func unknownKey() throws {
        let d = try project(Self.exampleTOML.replacingOccurrences(of: "entry_point = ", with: "entrypoint = "), extraFiles: Self.exampleFiles)
        try expectFailure(d, contains: [d.path + "/pyproject.toml", "unknown key tool.flavor.entrypoint"])
    }

    @Test("an entry point that does not exist (checked by importing it at build time)", arguments: [
        ("wordstats.cli:no_such_function", "module wordstats.cli has no attribute no_such_function"),
        ("no_such_module:main", "cannot import module no_such_module"),
        ("no-such-script", "no console script named 'no-such-script'"),
    ])
    func badEntryPoint(_ entry: String, _ message: String) throws {
        let toml = Self.exampleTOML.replacingOccurrences(of: "entry_point = \"wordstats\"", with: "entry_point = \"\(entry)\"")
        let d = try project(toml, extraFiles: Self.exampleFiles)
        try expectFailure(d, contains: [d.path + "/pyproject.toml", message])
    }

    @Test("a dependency that does not resolve offline shows pip's reason")
    func unresolvableDependency() throws {
        let toml = Self.exampleTOML.replacingOccurrences(of: "dependencies = [\"click>=8.1\"]",
                                                         with: "dependencies = [\"click>=8.1\", \"flavor-test-no-such-distribution\"]")
        let d = try project(toml, extraFiles: Self.exampleFiles)
        try expectFailure(d, args: ["--no-index", "--find-links", try PythonFixtures.wheelhouse.get()],
                          contains: ["pip could not install", "flavor-test-no-such-distribution"])
    }

    @Test("--python that is not an interpreter", arguments: [
        ("/bin/true", "is not a Python interpreter"),
        ("/nonexistent/python3", "no such file"),
        ("/tmp", "a directory without bin/python3"),
    ])
    func notAnInterpreter(_ python: String, _ message: String) throws {
        let d = try project(Self.exampleTOML, extraFiles: Self.exampleFiles)
        try expectFailure(d, args: ["--python", python], contains: ["--python", message])
    }

    @Test("an extension module whose shared library cannot be found names both")
    func missingSharedLibrary() throws {
        let d = try project("""
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "natapp"
            version = "0.1"
            [tool.setuptools]
            packages = ["natapp"]
            [tool.setuptools.package-data]
            natapp = ["*.so"]
            [tool.flavor]
            entry_point = "natapp:main"

            """, extraFiles: ["natapp/__init__.py": "def main():\n    return 0\n",
                              "c/lib.c": "int flavor_gone(void) { return 7; }\n",
                              "c/ext.c": "int flavor_gone(void);\nint natapp_value(void) { return flavor_gone(); }\n"])
        var r = try run("/usr/bin/gcc", ["-shared", "-fPIC", "-o", d.sub("c/libflavorgone.so.1"), "-Wl,-soname,libflavorgone.so.1", d.sub("c/lib.c")])
        try #require(r.status == 0, "\(r.output)")
        r = try run("/usr/bin/gcc", ["-shared", "-fPIC", "-o", d.sub("natapp/_native.so"), d.sub("c/ext.c"), d.sub("c/libflavorgone.so.1")])
        try #require(r.status == 0, "\(r.output)")
        try FileManager.default.removeItem(atPath: d.sub("c/libflavorgone.so.1"))
        try expectFailure(d, contains: ["natapp/_native.so", "needs libflavorgone.so.1", "not found"])
    }
}
