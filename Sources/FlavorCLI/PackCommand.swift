import ArgumentParser
import FlavorBuild
import FlavorEngine
import FlavorFormat
import FlavorPython
import FlavorSys

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Build a signed package from a pyproject.toml (the default) or a manifest.json.",
        discussion: """
        Without --manifest, flavor pack reads ./pyproject.toml (or --project DIR's): [project] name, \
        version, dependencies and scripts, and [tool.flavor] (entry_point, package_name, python, \
        extras, exclude, slots, strip, keep_stdlib_extras, stdlib_sources, execution.env, execution.runtime.env). \
        The project and its dependencies are installed with the bundled interpreter's pip \
        (--find-links, --no-index and pip's own configuration apply) and byte-compiled; the \
        interpreter (--python: an executable, a prefix or a python-build-standalone .tar.gz; \
        default python3 on PATH) is copied with every shared library it needs beyond glibc, so \
        the package runs where no Python is installed. Output: dist/<name>.psp.

        The manifest is the one upstream's flavor-rs-builder and flavor-go-builder take. A slot whose \
        source is a file is stored as given (its operations say what the bytes already are); a slot \
        whose source is a directory is tarred by flavor (paths under the slot's target) and compressed \
        as its operations ask (tgz/gzip → gzip, zstd → zstd, none → plain tar). Relative source paths \
        resolve against the manifest's directory. With --key-seed and SOURCE_DATE_EPOCH the output is \
        byte-identical from run to run.
        """)

    @Option(help: "The manifest.json (or a pyproject.toml) to build from. Default: ./pyproject.toml.") var manifest: String?
    @Option(help: "Where to write the package (default for a pyproject: dist/<name>.psp beside it).") var output: String?
    @Option(help: "The Python project directory (holding pyproject.toml).") var project: String?
    @Option(help: "Interpreter to bundle: a python executable, an installation prefix, or a python-build-standalone install_only .tar.gz.") var python: String?
    @Option(name: .customLong("find-links"), help: "Passed to pip: a directory (or URL) of wheels to install from. Repeatable.") var findLinks: [String] = []
    @Flag(name: .customLong("no-index"), help: "Passed to pip: use only --find-links, never an index.") var noIndex = false
    @Flag(name: .customLong("keep-stdlib-extras"), help: "Keep the test suite, idlelib, tkinter, ensurepip, lib2to3 and the _test modules of the standard library.") var keepStdlibExtras = false
    @Flag(name: .customLong("stdlib-sources"), help: "Ship the standard library's .py sources beside its bytecode (default: bytecode only, half the files to extract; stdlib frames in tracebacks then show no source line).") var stdlibSources = false
    @Flag(name: .customLong("eager"), help: "Python projects: extract everything at the first launch (default: dependencies and stdlib parts that the startup profile, [tool.flavor] startup, does not import are lazy slots, extracted when the app first imports them).") var eager = false
    @Flag(name: .customLong("no-strip"), help: "Python projects: keep debug sections in the bundled interpreter and libraries (stripped by default; --strip is about the launcher).") var noStrip = false
    @Option(help: "Launcher to prepend (default: flavor-launcher-embedded next to this executable, else flavor-launcher).") var launcherBin: String?
    @Option(help: "PKCS#8 PEM private key (needs --public-key).") var privateKey: String?
    @Option(help: "SPKI PEM public key.") var publicKey: String?
    @Option(help: "Derive the key from this string (SHA-256 → Ed25519 seed, as upstream); 'env' reads FLAVOR_KEY_SEED.") var keySeed: String?
    @Option(help: "Replaces {workenv} in slot source paths (default: current directory).") var workenvBase: String?
    @Option(help: "Codec for directory slots: gzip (default, runs on upstream launchers), zstd (needs flavor-launcher), none.") var codec: String?
    @Option(help: "Compression level (gzip 1-12, zstd 1-19). Default: gzip 6, zstd 3.") var level: Int32?
    @Flag(inversion: .prefixedNo, help: "Verify the package after building by running its own launcher (FLAVOR_LAUNCHER_CLI=1 PKG verify), as upstream; a package that fails is removed.") var verify = true
    @Flag(help: "Strip symbols from (a copy of) the launcher before prepending it (strip --strip-all; needs binutils). Unrelated to --no-strip.") var strip = false
    @Flag(help: "Progress lines on stderr even with --json.") var progress = false
    @Flag(name: .customLong("no-attestation"), help: "Leave out the attestation slot (CycloneDX SBOM + provenance, covered by the signature).") var noAttestation = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if progress && global.quiet { throw ValidationError("--progress and --quiet contradict each other") }
        if let c = codec, !["gzip", "zstd", "none"].contains(c) { throw ValidationError("--codec must be gzip, zstd or none") }
        if let l = level, !(1...19).contains(l) { throw ValidationError("--level must be between 1 and 19") }
        if let l = level, codec != "zstd", l > 12 { throw ValidationError("--level for gzip must be between 1 and 12") }
    }

    func run() throws {
        let manifestPath: String? = manifest.flatMap { $0.hasSuffix(".toml") ? nil : $0 }
        if manifestPath == nil { packPython() }
        guard let output else { fail("--output is needed with a manifest.json") }
        let settings = processSettings
        guard let chosen = launcherBin ?? settings.launcherBin ?? defaultLauncherPath() else {
            fail("no launcher: pass --launcher-bin (neither flavor-launcher-embedded nor flavor-launcher is next to flavor)")
        }
        let launcher = preparedLauncher(chosen, beside: output)
        defer { if launcher != chosen { _ = try? FS.unlink(launcher) } }
        do {
            let (key, deterministic) = try KeyFiles.resolve(privateKey: privateKey, publicKey: publicKey, seed: keySeed,
                                                            seedVariable: settings.keySeed)
            if keySeed == nil && privateKey == nil && !global.quiet {
                Process.printError("flavor: warning: no key given; signing with a random key (use --key-seed or --private-key)")
            }
            var opts = Manifest.Options(launcherPath: launcher, key: key, deterministic: deterministic)
            opts.sourceDateEpoch = settings.sourceDateEpoch
            opts.workenvBase = workenvBase
            opts.attestation = !noAttestation
            opts.codec = codec
            if let l = level { if codec == "zstd" { opts.zstdLevel = l } else { opts.gzipLevel = l } }
            if let l = settings.gzipLevel { opts.gzipLevel = l }
            let plan = try Manifest.load(path: manifestPath!, options: opts)
            if plan.slots.contains(where: { $0.chain.operations.contains(.zstd) }) && !global.quiet {
                Process.printError("flavor: warning: zstd slots need flavor-launcher; upstream 0.5.4 launchers cannot decode them")
            }
            let quiet = global.quiet || (global.json && !progress)
            let result = try Packer.pack(plan, to: output, settings: settings) { msg in if !quiet { Process.printError(msg) } }
            if verify { verifyBuilt(result.path, quiet: quiet) }
            if global.json {
                let slots = result.slots.map { s in
                    JSONValue.object([("id", .string(s.id)), ("stored_size", .int(Int64(s.stored))), ("original_size", .int(Int64(s.original)))])
                }
                printLine(JSONValue.object([("package", .string(result.path)), ("size", .int(Int64(result.size))),
                                            ("public_key_fingerprint", .string(Verifier.fingerprint(key.publicKey))),
                                            ("verified", .bool(verify)), ("slots", .array(slots))]).serializedString(pretty: true))
            } else if !global.quiet {
                printLine("wrote \(result.path) (\(result.size) bytes, \(result.slots.count) slots)")
            }
        } catch let e as BuildError {
            fail(e.message)
        } catch let e as EngineError {
            fail(e.message)
        }
    }
}

extension PackCommand {
    /// The pyproject.toml path: --manifest X.toml, else --project DIR/pyproject.toml, else ./pyproject.toml.
    var pyprojectPath: String {
        if let m = manifest, m.hasSuffix(".toml") { return absolute(m) }
        return absolute((project ?? ".") + "/pyproject.toml")
    }

    func absolute(_ p: String) -> String {
        var path = p.hasPrefix("/") ? p : FS.currentDirectory() + "/" + p
        while path.hasSuffix("/.") { path.removeLast(2) }
        return path.replacing("/./", with: "/")
    }

    /// The launcher to prepend: `path` itself, or with --strip a stripped copy beside the output
    /// (the caller removes it).
    func preparedLauncher(_ path: String, beside output: String) -> String {
        guard strip else { return path }
        let dir = output.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let copy = (dir.isEmpty ? "." : dir) + "/.flavor-launcher-stripped-\(Process.id)"
        let r: ChildProcess.Output
        do { r = try ChildProcess.run(path: "/usr/bin/strip", argv: ["strip", "--strip-all", "-o", copy, path], env: ["PATH=/usr/bin:/bin", "LC_ALL=C"]) } catch {
            fail("--strip: cannot run /usr/bin/strip (install binutils): \(error.reason)")
        }
        guard r.status == 0 else {
            _ = try? FS.unlink(copy)
            fail("--strip: strip \(path) failed: \(String(decoding: r.stderr, as: UTF8.self).split(separator: "\n").last ?? "")")
        }
        return copy
    }

    /// --verify: the package checked by its own launcher's CLI, as a user would; a package that
    /// fails is removed, so nothing unverified is left at the output path.
    func verifyBuilt(_ path: String, quiet: Bool) {
        let r: ChildProcess.Output
        do { r = try ChildProcess.run(path: path, argv: [path, "verify"], env: ["FLAVOR_LAUNCHER_CLI=1", "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"]) } catch {
            _ = try? FS.unlink(path)
            fail("\(path): cannot run the package to verify it: \(error.reason) (removed; --no-verify skips this)")
        }
        guard r.status == 0 else {
            _ = try? FS.unlink(path)
            let why = String(decoding: r.stderr + r.stdout, as: UTF8.self).split(separator: "\n").prefix(3).joined(separator: "; ")
            fail("\(path): its launcher's verify failed (exit \(r.status)): \(why) (the package was removed; --no-verify skips this)")
        }
        if !quiet { Process.printError("flavor: verified \(path) with its own launcher") }
    }

    /// Staged runtimes are kept between builds: FLAVOR_BUILD_CACHE, else $XDG_CACHE_HOME/flavor/build, else ~/.cache/flavor/build.
    static func buildCacheDir(_ s: Settings) -> String {
        if let d = s.buildCache { return d }
        if let x = s.xdgCacheHome, x.hasPrefix("/") { return x + "/flavor/build" }
        return (s.home ?? "/tmp") + "/.cache/flavor/build"
    }

    func packPython() -> Never {
        let settings = processSettings
        guard let chosen = launcherBin ?? settings.launcherBin ?? defaultLauncherPath() else {
            fail("no launcher: pass --launcher-bin (neither flavor-launcher-embedded nor flavor-launcher is next to flavor)")
        }
        let launcher = preparedLauncher(chosen, beside: output ?? pyprojectPath)
        let quiet = global.quiet || (global.json && !progress)
        do {
            let (key, deterministic) = try KeyFiles.resolve(privateKey: privateKey, publicKey: publicKey, seed: keySeed,
                                                            seedVariable: settings.keySeed)
            if keySeed == nil && privateKey == nil && !quiet {
                Process.printError("flavor: warning: no key given; signing with a random key (use --key-seed or --private-key)")
            }
            var mo = Manifest.Options(launcherPath: launcher, key: key, deterministic: deterministic)
            mo.sourceDateEpoch = settings.sourceDateEpoch
            mo.codec = codec
            if let l = level { if codec == "zstd" { mo.zstdLevel = l } else { mo.gzipLevel = l } }
            var o = PythonBuild.Options(project: pyprojectPath, cacheDir: Self.buildCacheDir(settings), manifest: mo, settings: settings)
            o.attestation = !noAttestation
            o.output = output.map(absolute)
            o.python = python
            o.findLinks = findLinks.map { $0.contains("://") ? $0 : absolute($0) }
            o.noIndex = noIndex
            if keepStdlibExtras { o.keepStdlibExtras = true }
            if stdlibSources { o.stdlibSources = true }
            if noStrip { o.strip = false }
            if eager { o.progressive = false }
            let start = MonotonicClock.now()
            let built: PythonBuild.Summary
            do {
                defer { if launcher != chosen { _ = try? FS.unlink(launcher) } }
                built = try PythonBuild.pack(o) { msg in
                    if !quiet { Process.printError(msg.hasPrefix("[") ? "flavor: " + msg : "flavor:   " + msg.drop(while: { $0 == " " })) }
                }
            }
            let s = built
            if verify { verifyBuilt(s.package.path, quiet: quiet) }
            let r = s.package
            let stored = r.slots.reduce(0) { $0 + $1.stored }, original = r.slots.reduce(0) { $0 + $1.original }
            if global.json {
                let slots = r.slots.map { sl in
                    JSONValue.object([("id", .string(sl.id)), ("stored_size", .int(Int64(sl.stored))), ("original_size", .int(Int64(sl.original)))])
                }
                printLine(JSONValue.object([
                    ("package", .string(r.path)), ("name", .string(s.name)), ("version", .string(s.version)),
                    ("size", .int(Int64(r.size))), ("input_bytes", .int(Int64(original))),
                    ("ratio", .string(String(Double(Int(Double(stored) / Double(max(original, 1)) * 1000)) / 1000))),
                    ("python", .string(s.python)), ("entry_point", .string(s.entryPoint)),
                    ("min_glibc", s.newestGlibc.map { .string($0) } ?? .null),
                    ("bundled_libraries", .array(s.bundledLibraries.map { .string($0) })),
                    ("seconds", .string(String(Double(Int((MonotonicClock.now() - start) * 100)) / 100))),
                    ("steps", .object(s.steps.map { ($0.0, .string(String(Double(Int($0.1 * 100)) / 100))) })),
                    ("public_key_fingerprint", .string(Verifier.fingerprint(key.publicKey))),
                    ("verified", .bool(verify)), ("slots", .array(slots)),
                ]).serializedString(pretty: true))
            } else if !global.quiet {
                let pct = Double(Int(Double(stored) * 1000 / Double(max(original, 1)))) / 10
                var text = "wrote \(r.path): \(r.size) bytes, \(r.slots.count) slots (\(original) → \(stored) bytes, \(pct)%), "
                text += "CPython \(s.python), entry \(s.entryPoint), glibc ≥ \(s.newestGlibc ?? "?"), "
                text += "\(String(Double(Int((MonotonicClock.now() - start) * 10)) / 10)) s"
                printLine(text)
            }
            Process.exit(0)
        } catch let e as BuildError {
            fail(e.message)
        } catch let e as EngineError {
            fail(e.message)
        } catch {
            fail("\(error)")
        }
    }
}
