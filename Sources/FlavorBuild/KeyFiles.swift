import FoundationEssentials
import FlavorSys

/// Ed25519 key files as upstream `flavor keygen` writes them (spec §7): PKCS#8 and SPKI PEM.
public enum KeyFiles {
    static let pkcs8Prefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
    static let spkiPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

    public static func privatePEM(seed: [UInt8]) -> String {
        pem("PRIVATE KEY", pkcs8Prefix + seed)
    }

    public static func publicPEM(publicKey: [UInt8]) -> String {
        pem("PUBLIC KEY", spkiPrefix + publicKey)
    }

    static func pem(_ label: String, _ der: [UInt8]) -> String {
        let b64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(b64)\n-----END \(label)-----\n"
    }

    /// (label, DER bytes) of the first PEM block in `text`.
    static func decodePEM(_ text: String, file: String) throws(BuildError) -> (String, [UInt8]) {
        let lines = text.split(whereSeparator: \.isNewline).map { line in
            String(line.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
        }
        guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") }),
              let end = lines[begin...].firstIndex(where: { $0.hasPrefix("-----END ") }) else {
            throw BuildError("\(file): not a PEM file (no BEGIN/END lines)")
        }
        let label = String(lines[begin].dropFirst(11).dropLast(5))
        let body = lines[(begin + 1)..<end].joined()
        guard let data = Data(base64Encoded: body) else { throw BuildError("\(file): PEM body is not valid base64") }
        return (label, [UInt8](data))
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
        if label == "PUBLIC KEY", der.count == 44, Array(der[0..<12]) == spkiPrefix { return Array(der[12...]) }
        if label == "ED25519 PUBLIC KEY", der.count == 32 { return der }
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
