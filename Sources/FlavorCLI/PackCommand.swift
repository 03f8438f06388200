import ArgumentParser
import FlavorBuild
import FlavorEngine
import FlavorFormat
import FlavorSys

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Build a signed package from a manifest.json.",
        discussion: """
        The manifest is the one upstream's flavor-rs-builder and flavor-go-builder take. A slot whose \
        source is a file is stored as given (its operations say what the bytes already are); a slot \
        whose source is a directory is tarred by flavor (paths under the slot's target) and compressed \
        as its operations ask (tgz/gzip → gzip, zstd → zstd, none → plain tar). Relative source paths \
        resolve against the manifest's directory. With --key-seed and SOURCE_DATE_EPOCH the output is \
        byte-identical from run to run.
        """)

    @Option(help: "The manifest.json to build from.") var manifest: String
    @Option(help: "Where to write the package.") var output: String
    @Option(help: "Launcher to prepend (default: flavor-launcher-embedded next to this executable, else flavor-launcher).") var launcherBin: String?
    @Option(help: "PKCS#8 PEM private key (needs --public-key).") var privateKey: String?
    @Option(help: "SPKI PEM public key.") var publicKey: String?
    @Option(help: "Derive the key from this string (SHA-256 → Ed25519 seed, as upstream); 'env' reads FLAVOR_KEY_SEED.") var keySeed: String?
    @Option(help: "Replaces {workenv} in slot source paths (default: current directory).") var workenvBase: String?
    @Option(help: "Codec for directory slots: gzip (default, runs on upstream launchers), zstd (needs flavor-launcher), none.") var codec: String?
    @Option(help: "Compression level (gzip 1-12, zstd 1-19). Default: gzip 6, zstd 3.") var level: Int32?
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let c = codec, !["gzip", "zstd", "none"].contains(c) { throw ValidationError("--codec must be gzip, zstd or none") }
        if let l = level, !(1...19).contains(l) { throw ValidationError("--level must be between 1 and 19") }
        if let l = level, codec != "zstd", l > 12 { throw ValidationError("--level for gzip must be between 1 and 12") }
    }

    func run() throws {
        guard let launcher = launcherBin ?? Env.get("FLAVOR_LAUNCHER_BIN") ?? defaultLauncherPath() else {
            fail("no launcher: pass --launcher-bin (neither flavor-launcher-embedded nor flavor-launcher is next to flavor)")
        }
        do {
            let (key, deterministic) = try KeyFiles.resolve(privateKey: privateKey, publicKey: publicKey, seed: keySeed)
            if keySeed == nil && privateKey == nil && !global.quiet {
                Process.printError("flavor: warning: no key given; signing with a random key (use --key-seed or --private-key)")
            }
            var opts = Manifest.Options(launcherPath: launcher, key: key, deterministic: deterministic)
            opts.workenvBase = workenvBase
            opts.codec = codec
            if let l = level { if codec == "zstd" { opts.zstdLevel = l } else { opts.gzipLevel = l } }
            if let l = Env.get("FLAVOR_GZIP_LEVEL").flatMap({ Int32($0) }), (1...12).contains(l) { opts.gzipLevel = l }
            let plan = try Manifest.load(path: manifest, options: opts)
            if plan.slots.contains(where: { $0.chain.operations.contains(.zstd) }) && !global.quiet {
                Process.printError("flavor: warning: zstd slots need flavor-launcher; upstream 0.5.4 launchers cannot decode them")
            }
            let quiet = global.quiet || global.json
            let result = try Packer.pack(plan, to: output) { msg in if !quiet { Process.printError(msg) } }
            if global.json {
                let slots = result.slots.map { s in
                    JSONValue.object([("id", .string(s.id)), ("stored_size", .int(Int64(s.stored))), ("original_size", .int(Int64(s.original)))])
                }
                printLine(JSONValue.object([("package", .string(result.path)), ("size", .int(Int64(result.size))),
                                            ("public_key_fingerprint", .string(Verifier.fingerprint(key.publicKey))),
                                            ("slots", .array(slots))]).serializedString(pretty: true))
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
