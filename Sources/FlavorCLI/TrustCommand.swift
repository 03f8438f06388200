import ArgumentParser
import FlavorBuild
import FlavorEngine
import FlavorFormat
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

/// Where `--global` sends a trust or policy command: the system's /etc/flavor, else the user's.
func configRoot(global: Bool) -> String {
    if global { return processSettings.systemConfigDir }
    guard let d = processSettings.userConfigDir else { fail("no user configuration directory: set HOME, XDG_CONFIG_HOME or FLAVOR_CONFIG_DIR") }
    return d
}

func trustedKeysDir(global: Bool) -> String {
    if global { return TrustStore.systemDir(processSettings) }
    guard let d = processSettings.userTrustedKeysDir else { fail("no trusted-keys directory: set HOME, XDG_CONFIG_HOME, FLAVOR_CONFIG_DIR or FLAVOR_TRUSTED_KEYS_DIR") }
    return d
}

func keyJSON(_ k: TrustedKey) -> JSONValue {
    .object([("fingerprint", .string(k.fingerprint)), ("label", k.label.map { .string($0) } ?? .null), ("path", .string(k.path))])
}

struct TrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Manage the trusted signing keys that an operator policy can require.",
        discussion: """
        Trusted keys are *.pub files (an optional "# Name: label" line and an SPKI "PUBLIC KEY" PEM, as \
        upstream flavorpack 0.5.x writes them) in the user's directory (FLAVOR_TRUSTED_KEYS_DIR, else \
        FLAVOR_CONFIG_DIR/trusted-keys, $XDG_CONFIG_HOME/flavor/trusted-keys or ~/.config/flavor/trusted-keys) \
        and the system's (/etc/flavor/trusted-keys, with --global). A key in either is trusted. The launcher \
        looks at them only when a policy says "require_trusted_key": true (flavor policy).
        """,
        subcommands: [Add.self, List.self, Remove.self, Verify.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Trust a public key: a PEM file (flavor keygen's flavor-public.key, upstream's, or a raw ED25519 PUBLIC KEY).")
        @Argument(help: "The public key file.") var key: String
        @Option(help: "A label shown by `trust list`.") var name: String?
        @Flag(help: "Add to the system's store (/etc/flavor/trusted-keys) instead of the user's.") var global = false
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let publicKey: [UInt8]
            do { publicKey = try KeyFiles.readPublicKey(key) } catch { fail(error.message) }
            if let n = name, n.contains("\n") { fail("--name must be one line") }
            let dir = trustedKeysDir(global: global)
            let fp = Verifier.fingerprint(publicKey)
            let path = dir + "/" + TrustStore.fileName(fingerprint: fp)
            do {
                try FS.mkdirs(dir, 0o755)
                try FS.writeFileAtomically(path, Array(TrustStore.fileText(publicKey: publicKey, label: name).utf8), mode: 0o644)
            } catch { fail("\(error)") }
            if options.json {
                printLine(JSONValue.object([("added", keyJSON(TrustedKey(publicKey: publicKey, fingerprint: fp, label: name, path: path)))]).serializedString(pretty: true))
            } else if !options.quiet {
                printLine("trusted \(fp.prefix(16))… (\(name ?? "no label")) → \(path)\nfingerprint \(fp)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the trusted keys (system and user), sorted by fingerprint.")
        @Flag(help: "Only the system's store.") var global = false
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let dirs = global ? [TrustStore.systemDir(processSettings)] : TrustStore.dirs(processSettings)
            let keys = TrustStore.load(dirs: dirs) { Process.printError("flavor: warning: \($0)") }
            if options.json {
                printLine(JSONValue.object([("directories", .array(dirs.map { .string($0) })),
                                            ("keys", .array(keys.map(keyJSON)))]).serializedString(pretty: true))
                return
            }
            if keys.isEmpty { printLine("no trusted keys (looked in \(dirs.joined(separator: ", ")))"); return }
            for k in keys { printLine("  \(k.fingerprint)  \(k.label ?? "(no label)")") }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop trusting a key: its full fingerprint, or the first 16 or more hex digits of it if they are unique.")
        @Argument(help: "The fingerprint (lowercase hex SHA-256 of the key), as `trust list` shows it.") var fingerprint: String
        @Flag(help: "Remove from the system's store instead of the user's.") var global = false
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let want = fingerprint.lowercased()
            guard want.count >= 16, want.count <= 64, want.allSatisfy(\.isHexDigit) else {
                fail("\(fingerprint): not a key fingerprint (16 to 64 hex digits)")
            }
            let dir = trustedKeysDir(global: global)
            let keys = TrustStore.load(dirs: [dir]) { Process.printError("flavor: warning: \($0)") }
            let hits = keys.filter { $0.fingerprint.hasPrefix(want) }
            guard !hits.isEmpty else { fail("no trusted key \(want) in \(dir)") }
            guard hits.count == 1 || want.count == 64 else { fail("\(want) matches \(hits.count) keys in \(dir): give more digits") }
            // Every file holding the key goes (a key added by hand and again with `trust add` is in two).
            let removed = TrustStore.keyFiles(in: [dir]) { _ in }.filter { $0.fingerprint == hits[0].fingerprint }.map(\.path)
            do { for path in removed { try FS.unlink(path) } } catch { fail("\(error)") }
            if options.json {
                printLine(JSONValue.object([("removed", .string(hits[0].fingerprint)), ("files", .array(removed.map { .string($0) }))]).serializedString(pretty: true))
            } else if !options.quiet {
                printLine("removed \(hits[0].fingerprint.prefix(16))… (\(removed.joined(separator: ", ")))")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a package's signature and say whether its signing key is trusted.",
            discussion: "Exit 0: trusted. 1: signed by a key that is not trusted (or no trusted-keys store exists). 2: not a package, or its signature or key fingerprint is wrong.")
        @Argument(help: "The package.") var package: String
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let (pkg, _) = openVerified(package, code: 2)
            let s = processSettings
            let key = pkg.index.publicKey
            let fp = Verifier.fingerprint(key)
            let keys = TrustStore.load(s) { Process.printError("flavor: warning: \($0)") }
            let match = keys.first { $0.publicKey == key }
            if options.json {
                printLine(JSONValue.object([("package", .string(package)), ("fingerprint", .string(fp)), ("trusted", .bool(match != nil)),
                                            ("key", match.map(keyJSON) ?? .null),
                                            ("store_exists", .bool(TrustStore.exists(s)))]).serializedString(pretty: true))
            } else if let match {
                if !options.quiet { printLine("\(package): signed by trusted key \(fp.prefix(16))… (\(match.label ?? "no label"), \(match.path))") }
            } else {
                let why = TrustStore.exists(s) ? "is not in the trusted store" : "is not trusted: no trusted-keys store exists yet (flavor init)"
                Process.printError("flavor: \(package): signing key \(fp) \(why) (\(TrustStore.dirs(s).joined(separator: ", ")))")
            }
            if match == nil { Process.exit(1) }
        }
    }
}
