internal import CSodium
import FlavorFormat

// Invariants: keys and signatures are plain [UInt8] values; libsodium reads/writes them only
// during each call. sodium_init is idempotent and thread-safe; it is called before key generation
// and signing. Verification does not call it: libsodium's Ed25519 verify has no run-time dispatch
// or random state, and sodium_init's CPUID probes cost ~30 us per launch on a VM.

public struct Ed25519KeyPair: Sendable {
    public var seed: [UInt8]        // 32-byte RFC 8032 secret key (what PKCS#8 stores)
    public var publicKey: [UInt8]   // 32 bytes
    fileprivate var secretKey: [UInt8]  // libsodium's 64-byte form: seed || public key
}

public enum Ed25519 {
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

    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32 else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }
}
