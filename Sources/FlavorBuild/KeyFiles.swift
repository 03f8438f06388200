import FlavorFormat
import FlavorSys

/// Ed25519 key files as upstream `flavor keygen` writes them (spec §7): PKCS#8 and SPKI PEM.
public enum KeyFiles {
    static let pkcs8Prefix = PEM.pkcs8Prefix
    static let spkiPrefix = PEM.spkiPrefix

    public static func privatePEM(seed: [UInt8]) -> String {
        PEM.encode("PRIVATE KEY", pkcs8Prefix + seed)
    }

    public static func publicPEM(publicKey: [UInt8]) -> String {
        PEM.spkiPEM(publicKey: publicKey)
    }

    /// (label, DER bytes) of the first PEM block in `text`.
    static func decodePEM(_ text: String, file: String) throws(BuildError) -> (String, [UInt8]) {
        do {
            let b = try PEM.firstBlock(Array(text.utf8))
            return (b.label, b.der)
        } catch { throw BuildError("\(file): \(error.reason)") }
    }

    /// The 32-byte seed from a private key file (PKCS#8 "PRIVATE KEY" or raw "ED25519 PRIVATE KEY").
    public static func readPrivateSeed(_ path: String) throws(BuildError) -> [UInt8] {
        let (label, der) = try decodePEM(try readText(path), file: path)
        if label == "PRIVATE KEY", der.count == 48, Array(der[0..<16]) == pkcs8Prefix { return Array(der[16...]) }
        if label == "ED25519 PRIVATE KEY", der.count == 32 || der.count == 64 { return Array(der[0..<32]) }
        throw BuildError("\(path): not an Ed25519 private key (expected PKCS#8 \"PRIVATE KEY\", 48 bytes; got \"\(label)\", \(der.count) bytes)")
    }

    public static func readPublicKey(_ path: String) throws(BuildError) -> [UInt8] {
        let (label, der) = try decodePEM(try readText(path), file: path)
        if let key = PEM.ed25519PublicKey(PEM.Block(label: label, der: der)) { return key }
        throw BuildError("\(path): not an Ed25519 public key (expected SPKI \"PUBLIC KEY\", 44 bytes; got \"\(label)\", \(der.count) bytes)")
    }

    static func readText(_ path: String) throws(BuildError) -> String {
        do { return String(decoding: try FS.readFile(path, limit: 1 << 20), as: UTF8.self) } catch {
            throw BuildError("\(path): cannot read key file: \(error.reason)")
        }
    }

    /// Resolves the builder key flags the way the Rust builder does: a seed wins over files;
    /// a private key needs its public key (checked to match); nothing at all means a random key.
    /// `--key-seed env` takes `seedVariable` (FLAVOR_KEY_SEED, from `Settings.keySeed`).
    public static func resolve(privateKey: String?, publicKey: String?, seed: String?,
                               seedVariable: String?) throws(BuildError) -> (Ed25519KeyPair, deterministic: Bool) {
        if var s = seed {
            if s == "env" {
                guard let v = seedVariable, !v.isEmpty else { throw BuildError("--key-seed env: FLAVOR_KEY_SEED is not set") }
                s = v
            }
            return (Ed25519.keyPair(seedString: s), true)
        }
        if let priv = privateKey {
            let pair = Ed25519.keyPair(seed: try readPrivateSeed(priv))
            guard let pubPath = publicKey else { throw BuildError("--private-key needs --public-key (as upstream builders require)") }
            let pub = try readPublicKey(pubPath)
            guard pub == pair.publicKey else { throw BuildError("\(pubPath): public key does not belong to \(priv)") }
            return (pair, false)
        }
        if publicKey != nil { throw BuildError("--public-key given without --private-key") }
        return (Ed25519.randomKeyPair(), false)
    }
}
