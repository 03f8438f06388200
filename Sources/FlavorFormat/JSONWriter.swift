extension JSONValue {
    /// UTF-8 JSON. `pretty` reproduces serde_json's `to_string_pretty` byte for byte (2-space indent,
    /// `"key": value`, no trailing newline); otherwise there is no whitespace at all.
    /// Non-finite doubles are written as `null`, as serde_json does.
    public func serialized(pretty: Bool) -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    /// `serialized(pretty:)` as a String.
    public func serializedString(pretty: Bool) -> String {
        String(decoding: serialized(pretty: pretty), as: UTF8.self)
    }

    /// The same value with every object's keys sorted by UTF-8 bytes, recursively.
    /// Duplicate keys collapse to the last one, as they do when serde_json reads a document into a
    /// map, so the compact form hashes like Rust's key-sorted serialisation (spec: attestation_policy_hash).
    public func sortedKeys() -> JSONValue {
        switch self {
        case let .array(items):
            return .array(items.map { $0.sortedKeys() })
        case let .object(members):
            // Sort on (key bytes, position) so that among duplicates the last one ends up last.
            let keyed = members.enumerated().map { (key: Array($0.element.0.utf8), position: $0.offset) }
            let order = keyed.sorted { a, b in
                a.key == b.key ? a.position < b.position : a.key.lexicographicallyPrecedes(b.key)
            }
            var result: [(String, JSONValue)] = []
            result.reserveCapacity(order.count)
            for (n, entry) in order.enumerated() {
                if n + 1 < order.count && order[n + 1].key == entry.key { continue }
                let member = members[entry.position]
                result.append((member.0, member.1.sortedKeys()))
            }
            return .object(result)
        default:
            return self
        }
    }

    private func write(into out: inout [UInt8], pretty: Bool, indent: Int) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case let .bool(b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case let .int(v): out.append(contentsOf: String(v).utf8)
        case let .double(d): appendJSONDouble(d, to: &out)
        case let .string(s): appendJSONString(s, to: &out)
        case let .array(items):
            guard !items.isEmpty else { out.append(contentsOf: "[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (n, item) in items.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(&out, indent + 1) }
                item.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&out, indent) }
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            guard !members.isEmpty else { out.append(contentsOf: "{}".utf8); return }
            out.append(UInt8(ascii: "{"))
            for (n, member) in members.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(&out, indent + 1) }
                appendJSONString(member.0, to: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(0x20) }
                member.1.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&out, indent) }
            out.append(UInt8(ascii: "}"))
        }
    }
}

private func newline(_ out: inout [UInt8], _ indent: Int) {
    out.append(0x0A)
    out.append(contentsOf: repeatElement(0x20, count: 2 * indent))
}

/// serde_json's escaping: the two mandatory characters, short forms for five controls,
/// `\u00xx` (lowercase) for the other controls, everything else raw (including '/', DEL and non-ASCII).
func appendJSONString(_ s: String, to out: inout [UInt8]) {
    let digits: StaticString = "0123456789abcdef"
    out.append(UInt8(ascii: "\""))
    for b in s.utf8 {
        switch b {
        case 0x22: out.append(contentsOf: [0x5C, 0x22])
        case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
        case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
        case 0..<0x20:
            out.append(contentsOf: "\\u00".utf8)
            digits.withUTF8Buffer { d in
                out.append(d[Int(b >> 4)])
                out.append(d[Int(b & 0xF)])
            }
        default: out.append(b)
        }
    }
    out.append(UInt8(ascii: "\""))
}

/// Ryu's layout as serde_json uses it (`ryu::Buffer::format_finite`), fed with the shortest
/// round-trip digits from Swift's `description` (both pick the shortest, closest digit string):
/// plain decimals below 1e16 (integral ones end in `.0`), `0.0000ddd` down to 1e-5,
/// otherwise `d.ddde-x` / `de30` without a '+' or zero padding.
func appendJSONDouble(_ value: Double, to out: inout [UInt8]) {
    guard value.isFinite else { out.append(contentsOf: "null".utf8); return }
    if value.sign == .minus { out.append(UInt8(ascii: "-")) }
    if value == 0 { out.append(contentsOf: "0.0".utf8); return }

    // Split Swift's text ("1.25", "1e-05", "1.2345e+20") into a digit string and an exponent k
    // such that |value| = digits × 10^k.
    var digits: [UInt8] = []
    var pointAt: Int?
    var exponent = 0
    var exponentSign = 1
    var inExponent = false
    for c in value.magnitude.description.utf8 {
        switch c {
        case UInt8(ascii: "."): pointAt = digits.count
        case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
        case UInt8(ascii: "-") where inExponent: exponentSign = -1
        case 0x30...0x39:
            if inExponent { exponent = exponent * 10 + Int(c - 0x30) } else { digits.append(c) }
        default: break
        }
    }
    var k = exponentSign * exponent + (pointAt ?? digits.count) - digits.count
    while digits.last == 0x30 { digits.removeLast(); k += 1 }
    if let firstNonZero = digits.firstIndex(where: { $0 != 0x30 }) { digits.removeFirst(firstNonZero) }
    let length = digits.count
    let kk = length + k  // 10^(kk-1) <= |value| < 10^kk

    if 0 <= k && kk <= 16 {
        out.append(contentsOf: digits)
        out.append(contentsOf: repeatElement(0x30, count: k))
        out.append(contentsOf: ".0".utf8)
    } else if 0 < kk && kk <= 16 {
        out.append(contentsOf: digits[..<kk])
        out.append(UInt8(ascii: "."))
        out.append(contentsOf: digits[kk...])
    } else if -5 < kk && kk <= 0 {
        out.append(contentsOf: "0.".utf8)
        out.append(contentsOf: repeatElement(0x30, count: -kk))
        out.append(contentsOf: digits)
    } else {
        out.append(digits[0])
        if length > 1 {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[1...])
        }
        out.append(UInt8(ascii: "e"))
        out.append(contentsOf: String(kk - 1).utf8)
    }
}
