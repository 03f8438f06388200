import FlavorFormat
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

/// Operator policy (spec §7, as upstream 0.5.x): /etc/flavor/policy.json, then the user's
/// <config>/policy.json, each with "version": 1, merged key by key (the user's wins, and an
/// `enforcement` table merges per check). Where upstream's readers differ we take the safer
/// reading: an unknown or wrong-typed key in a version-1 file is an error that stops a launch
/// (a misspelt `require_trusted_key` must not silently allow everything), and a package policy
/// whose platforms do not meet the operator's refuses instead of allowing any platform.
public struct OperatorPolicy: Sendable {
    public enum Mode: String, Sendable { case deny, warn, allow }

    /// The checks, in the order a launch makes them.
    public enum Check: String, Sendable, CaseIterable {
        case platformMismatch = "platform_mismatch", osKeychain = "os_keychain", rootExecution = "root_execution",
             expiredPackage = "expired_package", missingEnv = "missing_env", missingSBOM = "missing_sbom",
             untrustedKey = "untrusted_key"
    }

    public var requireTrustedKey = false
    public var useOSKeychain = false
    public var refuseRoot = false
    public var maxAgeDays: Int? = nil
    public var allowPlatforms: [String] = []
    public var requireSBOM = false
    public var defaultMode: Mode = .deny
    public var modes: [(check: Check, mode: Mode)] = []
    /// The files that were read, system first.
    public var files: [String] = []

    public init() {}

    /// What `flavor init` and `flavor policy init` write (upstream's scaffold: enforces nothing).
    public static let scaffold = """
        {
          "version": 1,
          "trust": {
            "require_trusted_key": false,
            "use_os_keychain": false
          },
          "execution": {
            "refuse_root": false,
            "allow_platforms": []
          },
          "attestation": {
            "require_sbom": false
          },
          "enforcement": {
            "default": "deny"
          }
        }

        """

    public static func systemFile(_ s: Settings) -> String { s.systemConfigDir + "/policy.json" }
    public static func userFile(_ s: Settings) -> String? { s.userConfigDir.map { $0 + "/policy.json" } }

    /// The merged policy of the files that exist (none: the empty policy, which allows everything).
    /// A file that cannot be read or parsed is an error naming it: a launch does not go on
    /// without the policy its operator wrote.
    public static func load(_ s: Settings, warn: (String) -> Void) throws(EngineError) -> OperatorPolicy {
        var p = OperatorPolicy()
        for file in [systemFile(s)] + (userFile(s).map { [$0] } ?? []) {
            let bytes: [UInt8]
            do { bytes = try FS.readFile(file, limit: 1 << 20) } catch {
                if error.errno == ENOENT || error.errno == ENOTDIR { continue }
                throw EngineError(.config, "\(file): cannot read the operator policy: \(error.reason)")
            }
            let json: JSONValue
            do { json = try JSONValue.parse(bytes) } catch { throw EngineError(.config, "\(file): invalid policy file: \(error)") }
            try p.apply(json, file: file, warn: warn)
            p.files.append(file)
        }
        return p
    }

    public func mode(_ c: Check) -> Mode { modes.last { $0.check == c }?.mode ?? defaultMode }

    /// Overrides this policy with what `json` sets.
    public mutating func apply(_ json: JSONValue, file: String, warn: (String) -> Void) throws(EngineError) {
        func fail(_ why: String) -> EngineError { EngineError(.config, "\(file): \(why)") }
        guard let top = json.objectValue else { throw fail("the policy must be a JSON object") }
        guard let version = json["version"]?.intValue else { throw fail("missing required \"version\" (an integer; 1 is this format)") }
        let strict = version <= 1
        if !strict { warn("\(file): policy version \(version) is newer than this launcher knows (1); keys it does not know are ignored") }
        func unknown(_ key: String) throws(EngineError) { if strict { throw fail("unknown policy key \"\(key)\"") } }
        func bool(_ v: JSONValue, _ key: String) throws(EngineError) -> Bool {
            guard let b = v.boolValue else { throw fail("\(key) must be true or false") }
            return b
        }
        func mode(_ v: JSONValue, _ key: String) throws(EngineError) -> Mode {
            guard let s = v.stringValue, let m = Mode(rawValue: s) else { throw fail("\(key) must be \"deny\", \"warn\" or \"allow\"") }
            return m
        }
        for (section, value) in top {
            if section == "version" { continue }
            if value.isNull { continue }
            guard let entries = value.objectValue else {
                if ["trust", "execution", "attestation", "enforcement"].contains(section) { throw fail("\(section) must be an object") }
                try unknown(section); continue
            }
            for (key, v) in entries {
                let name = section + "." + key
                if v.isNull { continue }
                switch (section, key) {
                case ("trust", "require_trusted_key"): requireTrustedKey = try bool(v, name)
                case ("trust", "use_os_keychain"): useOSKeychain = try bool(v, name)
                case ("execution", "refuse_root"): refuseRoot = try bool(v, name)
                case ("execution", "max_age_days"):
                    guard let n = v.intValue, n >= 0 else { throw fail("\(name) must be a whole number of days, 0 or more") }
                    maxAgeDays = Int(n)
                case ("execution", "allow_platforms"):
                    guard let list = v.arrayValue else { throw fail("\(name) must be a list of platform names such as \"linux_amd64\"") }
                    var names = [String]()
                    for e in list {
                        guard let s = e.stringValue else { throw fail("\(name) must be a list of platform names such as \"linux_amd64\"") }
                        names.append(s)
                    }
                    allowPlatforms = names
                case ("attestation", "require_sbom"): requireSBOM = try bool(v, name)
                case ("enforcement", "default"): defaultMode = try mode(v, name)
                case ("enforcement", _):
                    if let c = Check(rawValue: key) { modes.append((c, try mode(v, name))) } else { try unknown(name) }
                default: try unknown(name)
                }
            }
        }
    }
}

/// The `policy` a package carries in its signed metadata: {platforms, refuse_root, max_age_days, require_env}.
public struct PackagePolicy: Sendable {
    public var platforms: [String] = []
    public var refuseRoot = false
    public var maxAgeDays: Int? = nil
    public var requireEnv: [String] = []

    public init() {}

    /// `attestation_policy_hash`: hex SHA-256 of the compact, key-sorted JSON (upstream's canonical form;
    /// ASCII policies hash alike in every implementation).
    public static func hash(_ json: JSONValue) -> String {
        hex(bytes: SHA256.hash(json.sortedKeys().serialized(pretty: false)))
    }

    /// The metadata's policy, if it has one.
    public static func of(_ m: Metadata, package: String) throws(EngineError) -> PackagePolicy? {
        guard let j = m.policy else { return nil }
        return try PackagePolicy(json: j, package: package)
    }

    public init(json: JSONValue, package: String) throws(EngineError) {
        func fail(_ why: String) -> EngineError { EngineError(.format, "\(package): metadata policy: \(why)") }
        guard json.objectValue != nil else { throw fail("not an object") }
        func strings(_ key: String) throws(EngineError) -> [String] {
            guard let v = json[key], !v.isNull else { return [] }
            guard let list = v.arrayValue else { throw fail("\(key) must be a list of strings") }
            var out = [String]()
            for e in list {
                guard let s = e.stringValue else { throw fail("\(key) must be a list of strings") }
                out.append(s)
            }
            return out
        }
        platforms = try strings("platforms")
        requireEnv = try strings("require_env")
        if let v = json["refuse_root"], !v.isNull {
            guard let b = v.boolValue else { throw fail("refuse_root must be true or false") }
            refuseRoot = b
        }
        if let v = json["max_age_days"], !v.isNull {
            guard let n = v.intValue, n >= 0 else { throw fail("max_age_days must be a whole number, 0 or more") }
            maxAgeDays = Int(n)
        }
    }
}

/// One check that failed, with what the policy says to do about it.
public struct PolicyFinding: Sendable {
    public var check: OperatorPolicy.Check
    public var mode: OperatorPolicy.Mode
    public var message: String
}

/// What the checks look at, gathered by the caller (tests give their own).
public struct PolicyFacts {
    public var platform: String
    public var isRoot: Bool
    public var now: Int64
    public var buildTimestamp: UInt64
    public var environmentValue: (String) -> String?
    public var hasSBOM: () -> Bool
    public var keyTrusted: () -> Bool
    public var fingerprint: String

    public init(platform: String, isRoot: Bool, now: Int64, buildTimestamp: UInt64, environmentValue: @escaping (String) -> String?,
                hasSBOM: @escaping () -> Bool, keyTrusted: @escaping () -> Bool, fingerprint: String) {
        self.platform = platform; self.isRoot = isRoot; self.now = now; self.buildTimestamp = buildTimestamp
        self.environmentValue = environmentValue; self.hasSBOM = hasSBOM
        self.keyTrusted = keyTrusted; self.fingerprint = fingerprint
    }

    /// What this host and `pkg` look like to the checks: the launcher's and `flavor policy check`'s view.
    public static func of(_ pkg: PackageReader, _ m: Metadata, settings s: Settings, warn: @escaping (String) -> Void) -> PolicyFacts {
        let key = pkg.index.publicKey
        return PolicyFacts(
            platform: hostPlatform, isRoot: geteuid() == 0, now: Int64(time(nil)),
            buildTimestamp: pkg.index.buildTimestamp, environmentValue: s.environmentValue,
            // An SBOM counts when the index binds the attestation (the header check hashed it) and it holds one.
            hasSBOM: { pkg.index.attestationSBOMDigest.contains { $0 != 0 } && (try? Attestation.read(pkg))?["sbom"]?.objectValue != nil },
            keyTrusted: { key.contains { $0 != 0 } && TrustStore.trusts(key, s, warn: warn) },
            fingerprint: Verifier.fingerprint(key))
    }

    /// `linux_amd64` / `linux_arm64`, the names upstream's policies use.
    public static var hostPlatform: String {
        #if arch(arm64)
        return "linux_arm64"
        #else
        return "linux_amd64"
        #endif
    }
}

public enum Policy {
    /// Every failed check whose mode is not `allow`, in check order; the caller stops at the first
    /// `deny`. The package policy adds to the operator's ("stricter wins"): platforms must satisfy
    /// both, root is refused if either says so, the shorter age limit counts, require_env is the package's.
    public static func evaluate(_ op: OperatorPolicy, _ pkg: PackagePolicy?, _ f: PolicyFacts) -> [PolicyFinding] {
        var out = [PolicyFinding]()
        func fail(_ c: OperatorPolicy.Check, _ msg: String) {
            let m = op.mode(c)
            if m != .allow { out.append(PolicyFinding(check: c, mode: m, message: msg)) }
        }
        for (who, list) in [("operator policy", op.allowPlatforms), ("package", pkg?.platforms ?? [])] where !list.isEmpty {
            if !list.contains(f.platform) {
                fail(.platformMismatch, "platform not permitted: \(f.platform) not in [\(list.joined(separator: ", "))] (\(who))")
                break
            }
        }
        if op.useOSKeychain { fail(.osKeychain, "use_os_keychain is not supported by this launcher") }
        if (op.refuseRoot || pkg?.refuseRoot == true) && f.isRoot { fail(.rootExecution, "refused to run as root") }
        let limits = [op.maxAgeDays, pkg?.maxAgeDays].compactMap { $0 }
        if let limit = limits.min(), f.buildTimestamp > 0 {
            let days = max(0, (f.now - Int64(clamping: f.buildTimestamp)) / 86400)
            if days > Int64(limit) { fail(.expiredPackage, "package is \(days) days old; policy allows at most \(limit)") }
        }
        for name in pkg?.requireEnv ?? [] where (f.environmentValue(name) ?? "").isEmpty {
            fail(.missingEnv, "required environment variable not set: \(name)")
        }
        if op.requireSBOM && !f.hasSBOM() {
            fail(.missingSBOM, "package has no SBOM (no attestation slot bound by the index); operator policy requires one (attestation.require_sbom)")
        }
        if op.requireTrustedKey && !f.keyTrusted() {
            fail(.untrustedKey, "operator policy requires a trusted signing key; the package key \(f.fingerprint.prefix(16))… is not in the trusted store")
        }
        return out
    }

    /// The launcher's check, before the workenv is touched. With no policy file and no package
    /// policy (the usual case) it costs two failed opens.
    static func enforce(_ pkg: PackageReader, _ m: Metadata, settings s: Settings) throws(EngineError) {
        let warn: (String) -> Void = { Process.printError("flavor-launcher: warning: \($0)") }
        let op = try OperatorPolicy.load(s, warn: warn)
        let packagePolicy = try PackagePolicy.of(m, package: pkg.path)
        if op.files.isEmpty && packagePolicy == nil { return }
        let facts = PolicyFacts.of(pkg, m, settings: s, warn: warn)
        for f in evaluate(op, packagePolicy, facts) {
            switch f.mode {
            case .deny: throw EngineError(.policy, "policy violation: \(f.message)\(hint(f, facts, op, s))")
            case .warn: Process.printError("flavor-launcher: policy warning: \(f.message)")
            case .allow: break
            }
        }
    }

    /// What to do about a refusal, and which files said so.
    public static func hint(_ f: PolicyFinding, _ facts: PolicyFacts, _ op: OperatorPolicy, _ s: Settings) -> String {
        let from = op.files.isEmpty ? "the package's own policy" : op.files.joined(separator: ", ")
        switch f.check {
        case .untrustedKey:
            let dir = s.userTrustedKeysDir ?? TrustStore.systemDir(s)
            return ". To trust it, get the publisher's public key (fingerprint \(facts.fingerprint)) and run `flavor trust add KEY.pub` (it goes to \(dir)); policy: \(from)"
        default:
            return " (policy: \(from))"
        }
    }
}
