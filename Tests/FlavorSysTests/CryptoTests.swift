import Testing
import FlavorFormat
@testable import FlavorSys

@Suite("SHA-256, Ed25519 and key-seed derivation")
struct CryptoTests {
    @Test("SHA-256 of known inputs matches the FIPS 180-2 vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256Vectors(input: String, expected: String) {
        #expect(hex(bytes: SHA256.hash(Array(input.utf8))) == expected)
    }

    @Test("incremental SHA-256 over uneven chunks equals the one-shot digest")
    func incremental() {
        let data = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var h = SHA256()
        var i = 0, step = 1
        while i < data.count { let e = min(data.count, i + step); h.update(Array(data[i..<e])); i = e; step = step * 3 + 1 }
        #expect(h.finalize() == SHA256.hash(data))
    }

    @Test("--key-seed test-seed gives upstream's public key (spec §7)")
    func seedDerivation() {
        let pair = Ed25519.keyPair(seedString: "test-seed")
        #expect(hex(bytes: pair.publicKey) == "3cf9469205ba8dfccfd606c3eef6550016852c61d1e3594e2058433e841c98c9")
    }

    @Test("a signature verifies, and fails after any change to message, signature or key")
    func signVerify() {
        let pair = Ed25519.keyPair(seedString: "s")
        let msg = Array("{\"format\": \"PSPF/2025\"}".utf8)
        let sig = Ed25519.sign(msg, with: pair)
        #expect(Ed25519.verify(signature: sig, message: msg, publicKey: pair.publicKey))
        var badMsg = msg; badMsg[3] ^= 1
        #expect(!Ed25519.verify(signature: sig, message: badMsg, publicKey: pair.publicKey))
        var badSig = sig; badSig[10] ^= 0x80
        #expect(!Ed25519.verify(signature: badSig, message: msg, publicKey: pair.publicKey))
        #expect(!Ed25519.verify(signature: sig, message: msg, publicKey: Ed25519.keyPair(seedString: "t").publicKey))
    }
}
