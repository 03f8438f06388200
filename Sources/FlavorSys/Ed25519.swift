internal import CSodium
import FlavorFormat

// Invariants: keys and signatures are plain [UInt8] values; libsodium reads/writes them only
// during each call. Verification does not call sodium_init: libsodium's Ed25519 verify has no
// run-time dispatch or random state, and sodium_init's CPUID probes cost ~30 us per launch on a VM.
// Key generation and signing live in Ed25519Signing.swift, which the Embedded launcher's build
// leaves out: it never signs, and not referencing sodium_init keeps ~115 KiB of libsodium out of it.

public enum Ed25519 {
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32 else { return false }
        return crypto_sign_ed25519_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }
}
