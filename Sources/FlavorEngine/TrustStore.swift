import FlavorFormat
import FlavorSys

/// A public key an operator trusts: one `*.pub` file of a trusted-keys directory (spec §7), an
/// optional `# Name: label` line and an SPKI "PUBLIC KEY" PEM block, as upstream 0.5.x reads them.
public struct TrustedKey: Sendable {
    public var publicKey: [UInt8]
    public var fingerprint: String
    public var label: String?
    public var path: String

    public init(publicKey: [UInt8], fingerprint: String, label: String?, path: String) {
        self.publicKey = publicKey; self.fingerprint = fingerprint; self.label = label; self.path = path
    }
}

/// The trusted-keys directories: the system's (/etc/flavor/trusted-keys) and the user's
/// (FLAVOR_TRUSTED_KEYS_DIR, else <user config>/trusted-keys). A key in either is trusted.
public enum TrustStore {
    public static func systemDir(_ s: Settings) -> String { s.systemConfigDir + "/trusted-keys" }

    /// System first, then the user's: a user entry for the same key wins (its label is shown).
    public static func dirs(_ s: Settings) -> [String] {
        [systemDir(s)] + (s.userTrustedKeysDir.map { [$0] } ?? [])
    }

    /// Whether any trusted-keys directory exists (a store with no keys still exists).
    public static func exists(_ s: Settings) -> Bool { dirs(s).contains(where: FS.isDirectory) }

    /// The name `flavor trust add` gives a key's file: the first 16 hex digits of its fingerprint.
    public static func fileName(fingerprint: String) -> String { String(fingerprint.prefix(16)) + ".pub" }

    /// The file's text as `flavor trust add` writes it (upstream's launchers read it too).
    public static func fileText(publicKey: [UInt8], label: String?) -> String {
        (label.map { "# Name: \($0)\n" } ?? "") + PEM.spkiPEM(publicKey: publicKey)
    }

    /// Parses one key file; nil with the reason when it is not an Ed25519 SPKI public key.
    public static func parse(_ text: [UInt8], path: String) -> Result<TrustedKey, EngineError> {
        var label: String? = nil
        for line in text.split(separator: UInt8(ascii: "\n")) {
            let l = PEM.trimmed(line)
            if l.starts(with: Array("# Name:".utf8)) {
                let v = String(decoding: PEM.trimmed(l.dropFirst(7)), as: UTF8.self)
                label = v.isEmpty ? nil : v
            }
        }
        let block: PEM.Block
        do { block = try PEM.firstBlock(text) } catch { return .failure(EngineError(.config, "\(path): \(error.reason)")) }
        guard block.label == "PUBLIC KEY", let key = PEM.ed25519PublicKey(block) else {
            return .failure(EngineError(.config, "\(path): not an Ed25519 public key (expected SPKI \"PUBLIC KEY\", 44 bytes; got \"\(block.label)\", \(block.der.count) bytes)"))
        }
        return .success(TrustedKey(publicKey: key, fingerprint: Verifier.fingerprint(key), label: label, path: path))
    }

    /// Every key of every directory, by fingerprint (the later directory's entry wins); files
    /// that are not keys are reported to `warn` and skipped, as upstream does.
    public static func load(_ s: Settings, warn: (String) -> Void) -> [TrustedKey] { load(dirs: dirs(s), warn: warn) }

    public static func load(dirs: [String], warn: (String) -> Void) -> [TrustedKey] {
        var keys = [TrustedKey]()
        for k in keyFiles(in: dirs, warn: warn) {
            keys.removeAll { $0.fingerprint == k.fingerprint }
            keys.append(k)
        }
        return keys.sorted { $0.fingerprint.utf8.lexicographicallyPrecedes($1.fingerprint.utf8) }
    }

    /// Every key file of `dirs`, in order, duplicates included (`trust remove` deletes them all).
    public static func keyFiles(in dirs: [String], warn: (String) -> Void) -> [TrustedKey] {
        var out = [TrustedKey]()
        for dir in dirs {
            guard let names = try? FS.listDirectory(dir) else { continue }
            for name in names where name.hasSuffix(".pub") {
                let path = dir + "/" + name
                guard (try? FS.statFollowing(path))?.isRegular == true else { continue }
                let text: [UInt8]
                do { text = try FS.readFile(path, limit: 64 << 10) } catch { warn("\(path): \(error.reason)"); continue }
                switch parse(text, path: path) {
                case .success(let k): out.append(k)
                case .failure(let e): warn(e.message)
                }
            }
        }
        return out
    }

    /// Whether `publicKey` is trusted. The file `flavor trust add` would have written is tried
    /// first (one open), then every file (keys added by hand may have any name).
    public static func trusts(_ publicKey: [UInt8], _ s: Settings, warn: (String) -> Void) -> Bool {
        let fp = Verifier.fingerprint(publicKey)
        for dir in dirs(s) {
            if let text = try? FS.readFile(dir + "/" + fileName(fingerprint: fp), limit: 64 << 10),
               case .success(let k) = parse(text, path: dir), k.publicKey == publicKey { return true }
        }
        return load(s, warn: warn).contains { $0.publicKey == publicKey }
    }
}
