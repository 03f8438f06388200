import ArgumentParser
import FlavorEngine
import FlavorFormat
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

func loadOperatorPolicy() -> OperatorPolicy {
    do { return try OperatorPolicy.load(processSettings) { Process.printError("flavor: warning: \($0)") } } catch { fail(error.message) }
}

/// Writes the scaffold unless a policy is there; returns the line to print.
func scaffoldPolicy(_ path: String, force: Bool) -> String {
    if FS.exists(path) && !force { return "\(path) (already exists, not modified)" }
    do {
        try FS.mkdirs(String(path[..<path.lastIndex(of: "/")!]), 0o755)
        try FS.writeFileAtomically(path, Array(OperatorPolicy.scaffold.utf8), mode: 0o644)
    } catch { fail("\(error)") }
    return "\(path) (written; it enforces nothing until you edit it)"
}

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Show, create and test the operator policy that every launch enforces.",
        discussion: """
        The policy is /etc/flavor/policy.json (FLAVOR_SYSTEM_CONFIG_DIR moves it) overridden key by key by the \
        user's FLAVOR_CONFIG_DIR/policy.json (else $XDG_CONFIG_HOME/flavor, ~/.config/flavor), upstream \
        flavorpack 0.5.x's format: {"version": 1, "trust": {"require_trusted_key", "use_os_keychain"}, \
        "execution": {"refuse_root", "max_age_days", "allow_platforms"}, "attestation": {"require_sbom"}, \
        "enforcement": {"default": "deny"|"warn"|"allow", and one of those per check: platform_mismatch, \
        os_keychain, root_execution, expired_package, missing_env, missing_sbom, untrusted_key}}. A package's own \
        metadata policy adds to it (the stricter wins). A launch that the policy denies exits 111.
        """,
        subcommands: [Show.self, Init.self, Check.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the merged operator policy and the files it came from.")
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let p = loadOperatorPolicy()
            let modes = OperatorPolicy.Check.allCases.map { c in (c.rawValue, JSONValue.string(p.mode(c).rawValue)) }
            if options.json {
                printLine(JSONValue.object([
                    ("files", .array(p.files.map { .string($0) })),
                    ("trust", .object([("require_trusted_key", .bool(p.requireTrustedKey)), ("use_os_keychain", .bool(p.useOSKeychain))])),
                    ("execution", .object([("refuse_root", .bool(p.refuseRoot)), ("max_age_days", p.maxAgeDays.map { .int(Int64($0)) } ?? .null),
                                           ("allow_platforms", .array(p.allowPlatforms.map { .string($0) }))])),
                    ("attestation", .object([("require_sbom", .bool(p.requireSBOM))])),
                    ("enforcement", .object([("default", .string(p.defaultMode.rawValue))] + modes)),
                ]).serializedString(pretty: true))
                return
            }
            let files = p.files.isEmpty ? "none (looked for \(OperatorPolicy.systemFile(processSettings))\(OperatorPolicy.userFile(processSettings).map { " and " + $0 } ?? ""))" : p.files.joined(separator: ", ")
            printLine("""
                files: \(files)
                [trust]
                  require_trusted_key = \(p.requireTrustedKey)
                  use_os_keychain     = \(p.useOSKeychain)
                [execution]
                  refuse_root     = \(p.refuseRoot)
                  max_age_days    = \(p.maxAgeDays.map(String.init) ?? "(no limit)")
                  allow_platforms = \(p.allowPlatforms.isEmpty ? "(all platforms)" : p.allowPlatforms.joined(separator: ", "))
                [attestation]
                  require_sbom = \(p.requireSBOM)
                [enforcement]
                  default = \(p.defaultMode.rawValue)
                """)
            for c in OperatorPolicy.Check.allCases {
                let own = p.modes.last { $0.check == c }
                printLine("  \(c.rawValue) = \(own.map { $0.mode.rawValue } ?? "(default: \(p.defaultMode.rawValue))")")
            }
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a policy.json that enforces nothing, to edit (an existing one is kept).")
        @Flag(help: "Write /etc/flavor/policy.json instead of the user's.") var global = false
        @Flag(help: "Replace an existing policy.json.") var force = false
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let line = scaffoldPolicy(configRoot(global: global) + "/policy.json", force: force)
            if !options.quiet { printLine(line) }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether this host's policy lets a package run, as a launch would decide it.",
            discussion: "Exit 0: allowed (warnings are listed). 111: denied, with the reason. 1: the package or a policy file is broken.")
        @Argument(help: "The package.") var package: String
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let (pkg, m) = openVerified(package)
            let s = processSettings
            let op = loadOperatorPolicy()
            let pp: PackagePolicy?
            do { pp = try PackagePolicy.of(m, package: package) } catch { fail(error.message) }
            let facts = PolicyFacts.of(pkg, m, settings: s) { Process.printError("flavor: warning: \($0)") }
            let findings = Policy.evaluate(op, pp, facts)
            let denied = findings.first { $0.mode == .deny }
            if options.json {
                let rows = findings.map { f in JSONValue.object([("check", .string(f.check.rawValue)), ("mode", .string(f.mode.rawValue)),
                                                                   ("message", .string(f.message))]) }
                printLine(JSONValue.object([("package", .string(package)), ("allowed", .bool(denied == nil)), ("platform", .string(facts.platform)),
                                            ("policy_files", .array(op.files.map { .string($0) })), ("package_policy", .bool(pp != nil)),
                                            ("findings", .array(rows))]).serializedString(pretty: true))
            } else {
                for f in findings where f.mode == .warn { Process.printError("flavor: policy warning: \(f.message)") }
                if let d = denied {
                    Process.printError("flavor: \(package): policy violation: \(d.message)\(Policy.hint(d, facts, op, s))")
                } else if !options.quiet {
                    printLine("\(package): allowed on this host (\(facts.platform); policy: \(op.files.isEmpty ? "none" : op.files.joined(separator: ", "))\(pp == nil ? "" : " and the package's own"))")
                }
            }
            if denied != nil { Process.exit(LauncherExit.policy) }
        }
    }
}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the config directory with an empty trusted-keys store and a policy.json that enforces nothing.")
    @Flag(help: "Set up /etc/flavor instead of the user's directory.") var global = false
    @OptionGroup var options: GlobalOptions

    func run() throws {
        let root = configRoot(global: global)
        let keys = global ? TrustStore.systemDir(processSettings) : trustedKeysDir(global: false)
        do { try FS.mkdirs(keys, 0o755) } catch { fail("\(error)") }
        let policy = scaffoldPolicy(root + "/policy.json", force: false)
        if options.quiet { return }
        printLine("""
            \(keys) (trusted keys)
            \(policy)
            next: flavor trust add KEY.pub\(global ? " --global" : "") to trust a publisher; edit the policy to require it
            """)
    }
}
