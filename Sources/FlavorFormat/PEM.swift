/// PEM blocks and the Ed25519 key forms upstream reads and writes (spec §7): SPKI "PUBLIC KEY"
/// (44 bytes of DER), PKCS#8 "PRIVATE KEY" (48), and Rust's raw "ED25519 PUBLIC/PRIVATE KEY".
/// Our own base64, so the launcher reads trusted keys without Foundation.
public enum PEM {
    public static let spkiPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]
    public static let pkcs8Prefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]

    public struct Block: Sendable {
        public var label: String
        public var der: [UInt8]
        public init(label: String, der: [UInt8]) { self.label = label; self.der = der }
    }

    public enum Failure: Error, Sendable {
        case noBlock, badBase64
        public var reason: String {
            switch self {
            case .noBlock: return "not a PEM file (no BEGIN/END lines)"
            case .badBase64: return "PEM body is not valid base64"
            }
        }
    }

    /// The first block in `text`; lines may carry surrounding blanks, comment lines may come first.
    public static func firstBlock(_ text: [UInt8]) throws(Failure) -> Block {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map(trimmed)
        guard let begin = lines.firstIndex(where: { $0.starts(with: Array("-----BEGIN ".utf8)) }),
              let end = lines[begin...].firstIndex(where: { $0.starts(with: Array("-----END ".utf8)) }),
              lines[begin].count > 16, lines[begin].suffix(5).allSatisfy({ $0 == UInt8(ascii: "-") }) else { throw .noBlock }
        let label = String(decoding: lines[begin].dropFirst(11).dropLast(5), as: UTF8.self)
        var body = [UInt8]()
        for l in lines[(begin + 1)..<end] { body += l }
        guard let der = base64Decode(body) else { throw .badBase64 }
        return Block(label: label, der: der)
    }

    public static func encode(_ label: String, _ der: [UInt8]) -> String {
        let b64 = base64Encode(der)
        var out = "-----BEGIN \(label)-----\n"
        var i = 0
        while i < b64.count {
            out += String(decoding: b64[i..<min(i + 64, b64.count)], as: UTF8.self) + "\n"
            i += 64
        }
        return out + "-----END \(label)-----\n"
    }

    /// The raw 32-byte key of an SPKI "PUBLIC KEY" or a raw "ED25519 PUBLIC KEY" block.
    public static func ed25519PublicKey(_ b: Block) -> [UInt8]? {
        if b.label == "PUBLIC KEY", b.der.count == 44, Array(b.der[0..<12]) == spkiPrefix { return Array(b.der[12...]) }
        if b.label == "ED25519 PUBLIC KEY", b.der.count == 32 { return b.der }
        return nil
    }

    public static func spkiPEM(publicKey: [UInt8]) -> String { encode("PUBLIC KEY", spkiPrefix + publicKey) }

    public static func trimmed(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        func blank(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 }
        var s = line
        while let f = s.first, blank(f) { s = s.dropFirst() }
        while let l = s.last, blank(l) { s = s.dropLast() }
        return s
    }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func base64Encode(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            let b0 = UInt32(bytes[i]), b1 = n > 1 ? UInt32(bytes[i + 1]) : 0, b2 = n > 2 ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(n > 1 ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(n > 2 ? alphabet[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return out
    }

    /// Standard base64 with padding; nil on any other character or a bad length.
    public static func base64Decode(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(c - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(c - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - 48 + 52)
            case UInt8(ascii: "+"): return 62
            case UInt8(ascii: "/"): return 63
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(text.count / 4 * 3)
        var i = 0
        while i < text.count {
            let last = i + 4 == text.count
            let pad = last ? (text[i + 3] == UInt8(ascii: "=") ? (text[i + 2] == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
            var v: UInt32 = 0
            for k in 0..<4 {
                if k >= 4 - pad { v <<= 6; continue }
                guard let d = value(text[i + k]) else { return nil }
                v = v << 6 | d
            }
            out.append(UInt8(v >> 16 & 0xff))
            if pad < 2 { out.append(UInt8(v >> 8 & 0xff)) }
            if pad < 1 { out.append(UInt8(v & 0xff)) }
            i += 4
        }
        return out
    }
}
