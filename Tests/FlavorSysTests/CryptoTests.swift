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
        var portable = SHA256(portable: true)
        portable.update(Array(input.utf8))
        #expect(hex(bytes: portable.finalize()) == expected)
    }

    @Test("SHA-256 of a million 'a' (FIPS 180-2), fed in odd pieces, on both paths")
    func millionA() {
        let piece = [UInt8](repeating: 0x61, count: 999)
        for portable in [false, true] {
            var h = SHA256(portable: portable)
            var left = 1_000_000
            while left > 0 { let n = min(left, piece.count); h.update(Array(piece[0..<n])); left -= n }
            #expect(hex(bytes: h.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        }
    }

    @Test("the SHA-NI path and the portable path agree on every length and split up to 300 bytes")
    func acceleratedMatchesPortable() {
        let data = (0..<4_100).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        var mismatches = 0
        for length in Array(0...300) + [1_023, 1_024, 1_025, 4_099] {
            for split in stride(from: 0, through: length, by: max(1, length / 7)) {
                var a = SHA256(), b = SHA256(portable: true)
                a.update(Array(data[0..<split])); a.update(Array(data[split..<length]))
                b.update(Array(data[0..<length]))
                if a.finalize() != b.finalize() { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
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
