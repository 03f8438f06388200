internal import CSodium
import FlavorFormat

// Key generation and signing (the packer and `flavor keygen`). sodium_init is idempotent and
// thread-safe; it is called before each of these. Verification is in Ed25519.swift.

public struct Ed25519KeyPair: Sendable {
    public var seed: [UInt8]        // 32-byte RFC 8032 secret key (what PKCS#8 stores)
    public var publicKey: [UInt8]   // 32 bytes
    fileprivate var secretKey: [UInt8]  // libsodium's 64-byte form: seed || public key
}

extension Ed25519 {
    static func ensureInit() { _ = sodium_init() }

    /// Key pair from a 32-byte seed. Traps on a wrong-length seed: callers check lengths at the edge.
    public static func keyPair(seed: [UInt8]) -> Ed25519KeyPair {
        precondition(seed.count == 32, "Ed25519 seed must be 32 bytes")
        ensureInit()
        var pk = [UInt8](repeating: 0, count: 32)
        var sk = [UInt8](repeating: 0, count: 64)
        _ = crypto_sign_seed_keypair(&pk, &sk, seed)
        return Ed25519KeyPair(seed: seed, publicKey: pk, secretKey: sk)
    }

    /// upstream `--key-seed`: the Ed25519 seed is SHA-256 of the UTF-8 seed string (spec §7).
    public static func keyPair(seedString: String) -> Ed25519KeyPair {
        keyPair(seed: SHA256.hash(Array(seedString.utf8)))
    }

    public static func randomKeyPair() -> Ed25519KeyPair {
        ensureInit()
        var seed = [UInt8](repeating: 0, count: 32)
        randombytes_buf(&seed, 32)
        return keyPair(seed: seed)
    }

    public static func sign(_ message: [UInt8], with key: Ed25519KeyPair) -> [UInt8] {
        ensureInit()
        var sig = [UInt8](repeating: 0, count: 64)
        _ = crypto_sign_detached(&sig, nil, message, UInt64(message.count), key.secretKey)
        return sig
    }
}
