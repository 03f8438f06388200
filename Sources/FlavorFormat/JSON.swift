/// A JSON document as the metadata uses it: integers stay exact and object keys keep their order,
/// so a document can be re-serialised the way serde_json would.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Members in document order. The parser refuses duplicate keys; a value built in code may
    /// still hold them (lookup then takes the last one).
    case object([(String, JSONValue)])

    /// Structural equality. Strings and keys compare by UTF-8 bytes, not by Swift's canonical
    /// equivalence, so "é" and "e\u{301}" are different keys as they are in every other JSON reader.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.string(a), .string(b)): return sameBytes(a, b)
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            guard a.count == b.count else { return false }
            for i in a.indices where !(sameBytes(a[i].0, b[i].0) && a[i].1 == b[i].1) { return false }
            return true
        default: return false
        }
    }

    // MARK: Accessors

    /// Object member `key` (of a value built with duplicates, the last one).
    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        for member in members.reversed() where sameBytes(member.0, key) { return member.1 }
        return nil
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// The integer, also from a double that holds an integral value inside Int64's range.
    public var intValue: Int64? {
        switch self {
        case let .int(v): return v
        case let .double(d): return Int64(exactly: d)
        default: return nil
        }
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    public var objectValue: [(String, JSONValue)]? {
        if case let .object(o) = self { return o }
        return nil
    }

    // MARK: Parsing

    /// Parses one RFC 8259 document. Nesting beyond `maxDepth` arrays/objects, invalid UTF-8,
    /// lone surrogate escapes, numbers outside Double's range, duplicate keys in an object (readers
    /// disagree on which one counts: one signed file, two meanings) and trailing bytes are refused
    /// with `.json(reason, offset:)`, the offset being the byte where the problem was found.
    /// Parsing itself does not recurse; `maxDepth` also bounds the recursion of whatever walks the
    /// result later (writer, `==`, `sortedKeys`).
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws(FormatError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        let value = try parser.document()
        parser.skipWhitespace()
        guard parser.at == bytes.count else { throw .json("trailing characters after the document", offset: parser.at) }
        return value
    }

    /// A top-level member left unparsed: where its value's bytes are and, for an array, how many
    /// elements it has.
    public struct Deferred: Sendable, Equatable {
        public var range: Range<Int>
        public var elements: Int
        public init(range: Range<Int>, elements: Int) { self.range = range; self.elements = elements }
    }

    /// Like `parse`, but the value of top-level member `key` is only scanned for its end (and its
    /// element count) and reads as `null`; `parse(bytes[range])` gives it later. The launcher's
    /// warm start thus skips the metadata's slot list, whose size grows with the package.
    /// `known`: where that value was found in these same bytes before (a memo of them): taken
    /// without scanning when it starts where the value starts and spans a bracketed value.
    public static func parse(_ bytes: [UInt8], deferring key: String, known: Deferred? = nil, maxDepth: Int = 64) throws(FormatError) -> (JSONValue, Deferred?) {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.deferredKey = key
        parser.knownDeferred = known
        let value = try parser.document()
        parser.skipWhitespace()
        guard parser.at == bytes.count else { throw .json("trailing characters after the document", offset: parser.at) }
        return (value, parser.deferred)
    }
}

@inline(__always)
func sameBytes(_ a: String, _ b: String) -> Bool {
    // Length first (O(1) for native strings): most key lookups on every launch end there.
    a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
}

private extension UInt8 {
    static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    var isDigit: Bool { self >= 0x30 && self <= 0x39 }
}

/// A single pass over the byte array without recursion; every index is checked against
/// `bytes.count` before use, so hostile input can only make it throw.
struct JSONParser {
    let bytes: [UInt8]
    let maxDepth: Int
    var at = 0
    /// Top-level member whose value is skipped, and where it was (see `JSONValue.parse(_:deferring:)`).
    var deferredKey: String?
    var deferred: JSONValue.Deferred?
    var knownDeferred: JSONValue.Deferred?

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private var current: UInt8? { at < bytes.count ? bytes[at] : nil }

    mutating func skipWhitespace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x09, 0x0A, 0x0D: at += 1
            default: return
            }
        }
    }

    /// An open container. Its members so far sit at `values[valueStart...]` (and, for an object,
    /// their keys at `keys[keyStart...]`), so each value is moved once per level instead of
    /// copying a container that is being grown inside an enum payload.
    private struct Frame {
        var isObject: Bool
        var valueStart: Int
        var keyStart: Int
    }

    /// One complete value. Containers are kept on an explicit stack rather than by recursion, so
    /// even a caller-chosen huge `maxDepth` cannot exhaust the thread's stack.
    mutating func document() throws(FormatError) -> JSONValue {
        var frames: [Frame] = []
        var values: [JSONValue] = []
        var keys: [String] = []
        while true {
            // Start of a value: either open a container (and go read its first member) or read a scalar.
            skipWhitespace()
            guard let c = current else { throw .json("unexpected end of input", offset: at) }
            var value: JSONValue
            if let key = deferredKey, deferred == nil, frames.count == 1, frames[0].isObject, let last = keys.last, sameBytes(last, key) {
                let start = at
                if let k = knownDeferred, k.range.lowerBound == start, k.range.upperBound <= bytes.count, k.range.count >= 2,
                   (c == UInt8(ascii: "[") && bytes[k.range.upperBound - 1] == UInt8(ascii: "]"))
                    || (c == UInt8(ascii: "{") && bytes[k.range.upperBound - 1] == UInt8(ascii: "}")) {
                    at = k.range.upperBound
                    deferred = k
                } else {
                    let n = try skipValue()
                    deferred = JSONValue.Deferred(range: start..<at, elements: n)
                }
                value = .null
            } else {
            switch c {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                let isObject = c == UInt8(ascii: "{")
                try checkDepth(frames.count + 1)
                at += 1
                skipWhitespace()
                if current == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    at += 1
                    value = isObject ? .object([]) : .array([])
                } else {
                    frames.append(Frame(isObject: isObject, valueStart: values.count, keyStart: keys.count))
                    if isObject { keys.append(try memberKey()) }
                    continue
                }
            case .quote: value = .string(try string())
            case UInt8(ascii: "t"): try literal("true"); value = .bool(true)
            case UInt8(ascii: "f"): try literal("false"); value = .bool(false)
            case UInt8(ascii: "n"): try literal("null"); value = .null
            case UInt8(ascii: "-"), 0x30...0x39: value = try number()
            default: throw .json("unexpected byte 0x\(hex(UInt64(c), width: 2))", offset: at)
            }
            }

            // A value is complete: hand it to the enclosing containers, closing those that end here.
            while true {
                guard let frame = frames.last else { return value }
                values.append(value)
                skipWhitespace()
                let close = frame.isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if current == UInt8(ascii: ",") {
                    at += 1
                    if frame.isObject { keys.append(try memberKey()) }
                    break
                }
                guard current == close else {
                    if current == nil { throw .json(frame.isObject ? "unterminated object" : "unterminated array", offset: at) }
                    throw .json(frame.isObject ? "expected ',' or '}' in object" : "expected ',' or ']' in array", offset: at)
                }
                if frame.isObject { try refuseDuplicates(keys[frame.keyStart...], closingAt: at) }
                at += 1
                let members = Array(values[frame.valueStart...])
                values.removeSubrange(frame.valueStart...)
                if frame.isObject {
                    value = .object(Array(zip(keys[frame.keyStart...], members)))
                    keys.removeSubrange(frame.keyStart...)
                } else {
                    value = .array(members)
                }
                frames.removeLast()
            }
        }
    }

    /// Throws when two keys of one object have the same bytes: pairwise for small objects (every
    /// metadata object), sorted for large ones so that a hostile object stays O(n log n).
    private func refuseDuplicates(_ keys: ArraySlice<String>, closingAt offset: Int) throws(FormatError) {
        guard keys.count > 1 else { return }
        if keys.count <= 16 {
            for i in keys.indices {
                for j in keys.index(after: i)..<keys.endIndex where sameBytes(keys[i], keys[j]) {
                    throw .json("duplicate key \"\(keys[i])\" in an object", offset: offset)
                }
            }
            return
        }
        let sorted = keys.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
        for k in sorted.indices.dropFirst() where sorted[k] == sorted[k - 1] {
            throw .json("duplicate key \"\(String(decoding: sorted[k], as: UTF8.self))\" in an object", offset: offset)
        }
    }

    /// Steps over one value without building it (strings are stepped over escape by escape, not
    /// decoded); returns the element count when it is an array. What it skips is parsed in full
    /// before anything uses it, so here it only has to find the end.
    private mutating func skipValue() throws(FormatError) -> Int {
        let (end, count) = try bytes.withByteReader { (r) throws(FormatError) -> (Int, Int) in
            try Self.skip(r, from: at, maxDepth: maxDepth)
        }
        at = end
        return count
    }

    /// Skips one value starting at `start` without building it; returns where it ends and, for an
    /// array, its element count. Over a ByteReader, whose reads are unchecked in release builds: the
    /// deferred slot list is most of the metadata, and this runs on every launch. Strings are skipped
    /// escape by escape (validated when the value is parsed for real), brackets must balance.
    private static func skip(_ r: ByteReader, from start: Int, maxDepth: Int) throws(FormatError) -> (Int, Int) {
        let n = r.count
        var at = start
        var depth = 0, elements = 0, sawElement = false
        let isArray = at < n && r[at] == UInt8(ascii: "[")
        repeat {
            guard at < n else { throw .json("unterminated value", offset: start) }
            let c = r[at]
            switch c {
            case .quote:
                at += 1
                while true {
                    guard at < n else { throw .json("unterminated string", offset: start) }
                    let b = r[at]
                    if b == .quote { at += 1; break }
                    at += b == .backslash ? 2 : 1
                }
                if depth == 1 { sawElement = true }
                continue
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if depth == 1 { sawElement = true }
                depth += 1
                try checkDepth(depth, maxDepth: maxDepth, at: at)
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
                guard depth >= 0 else { throw .json("unbalanced brackets", offset: at) }
            case UInt8(ascii: ","):
                if depth == 1 { elements += 1 }
            case 0x20, 0x09, 0x0A, 0x0D:
                break
            default:
                if depth == 1 { sawElement = true }
                if depth == 0 {
                    // A scalar: up to the next delimiter.
                    while at < n {
                        switch r[at] {
                        case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D: return (at, 0)
                        default: at += 1
                        }
                    }
                    return (at, 0)
                }
            }
            at += 1
        } while depth > 0
        return (at, isArray && sawElement ? elements + 1 : 0)
    }

    /// `"key" :` — leaves `at` on the member's value.
    private mutating func memberKey() throws(FormatError) -> String {
        skipWhitespace()
        guard current == .quote else {
            throw .json(current == nil ? "unterminated object" : "expected a string key", offset: at)
        }
        let key = try string()
        skipWhitespace()
        guard current == UInt8(ascii: ":") else { throw .json("expected ':' after object key", offset: at) }
        at += 1
        return key
    }

    private mutating func literal(_ word: StaticString) throws(FormatError) {
        let start = at
        let n = word.utf8CodeUnitCount
        guard n <= bytes.count - at else { throw .json("invalid literal", offset: start) }
        var ok = true
        word.withUTF8Buffer { w in
            for k in 0..<n where bytes[start + k] != w[k] { ok = false; break }
        }
        guard ok else { throw .json("invalid literal", offset: start) }
        at += n
    }

    private func checkDepth(_ depth: Int) throws(FormatError) {
        try Self.checkDepth(depth, maxDepth: maxDepth, at: at)
    }

    private static func checkDepth(_ depth: Int, maxDepth: Int, at: Int) throws(FormatError) {
        guard depth <= maxDepth else { throw .json("nesting deeper than \(maxDepth) levels", offset: at) }
    }

    // MARK: Strings

    /// Expects `at` on the opening quote; leaves it after the closing quote.
    mutating func string() throws(FormatError) -> String {
        let open = at
        at += 1
        var decoded: [UInt8] = []
        var escaped = false
        var runStart = at
        while true {
            guard at < bytes.count else { throw .json("unterminated string", offset: open) }
            let c = bytes[at]
            if c == .quote {
                // The bytes were validated as UTF-8 above, so decoding cannot substitute anything.
                let result: String
                if escaped {
                    decoded.append(contentsOf: bytes[runStart..<at])
                    result = String(decoding: decoded, as: UTF8.self)
                } else {
                    result = String(decoding: bytes[runStart..<at], as: UTF8.self)
                }
                at += 1
                return result
            } else if c == .backslash {
                decoded.append(contentsOf: bytes[runStart..<at])
                escaped = true
                try escape(into: &decoded)
                runStart = at
            } else if c < 0x20 {
                throw .json("unescaped control character 0x\(hex(UInt64(c), width: 2)) in string", offset: at)
            } else if c < 0x80 {
                at += 1
            } else {
                try skipUTF8Sequence()
            }
        }
    }

    /// Validates one multi-byte UTF-8 sequence (Unicode Table 3-7: no overlongs, no surrogates,
    /// nothing above U+10FFFF) and steps over it.
    private mutating func skipUTF8Sequence() throws(FormatError) {
        let lead = bytes[at]
        let need: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: need = 1
        case 0xE0: need = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: need = 2
        case 0xED: need = 2; high = 0x9F
        case 0xF0: need = 3; low = 0x90
        case 0xF1...0xF3: need = 3
        case 0xF4: need = 3; high = 0x8F
        default: throw .json("invalid UTF-8 lead byte 0x\(hex(UInt64(lead), width: 2))", offset: at)
        }
        for k in 1...need {
            let i = at + k
            guard i < bytes.count else { throw .json("truncated UTF-8 sequence", offset: at) }
            let b = bytes[i]
            let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard b >= lo && b <= hi else { throw .json("invalid UTF-8 continuation byte 0x\(hex(UInt64(b), width: 2))", offset: i) }
        }
        at += need + 1
    }

    /// Expects `at` on a backslash inside a string.
    private mutating func escape(into out: inout [UInt8]) throws(FormatError) {
        let start = at
        guard at + 1 < bytes.count else { throw .json("unterminated escape", offset: start) }
        let e = bytes[at + 1]
        at += 2
        switch e {
        case .quote: out.append(.quote)
        case .backslash: out.append(.backslash)
        case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            let first = try hex4()
            var scalar: UInt32
            switch first {
            case 0xD800...0xDBFF:
                guard at + 1 < bytes.count, bytes[at] == .backslash, bytes[at + 1] == UInt8(ascii: "u") else {
                    throw .json("high surrogate escape without a low surrogate", offset: start)
                }
                at += 2
                let second = try hex4()
                guard (0xDC00...0xDFFF).contains(second) else {
                    throw .json("high surrogate escape without a low surrogate", offset: start)
                }
                scalar = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            case 0xDC00...0xDFFF:
                throw .json("lone low surrogate escape", offset: start)
            default:
                scalar = first
            }
            appendUTF8(scalar, to: &out)
        default:
            let shown = (0x21...0x7E).contains(e) ? String(decoding: [e], as: UTF8.self) : "0x" + hex(UInt64(e), width: 2)
            throw .json("invalid escape \\\(shown)", offset: start)
        }
    }

    private mutating func hex4() throws(FormatError) -> UInt32 {
        guard 4 <= bytes.count - at else { throw .json("truncated \\u escape", offset: at) }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = bytes[at + k]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            default: throw .json("invalid hex digit in \\u escape", offset: at + k)
            }
            v = v << 4 | d
        }
        at += 4
        return v
    }

    private func appendUTF8(_ s: UInt32, to out: inout [UInt8]) {
        switch s {
        case 0..<0x80:
            out.append(UInt8(s))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | s >> 6)); out.append(UInt8(0x80 | s & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | s >> 12)); out.append(UInt8(0x80 | s >> 6 & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
        default:
            out.append(UInt8(0xF0 | s >> 18)); out.append(UInt8(0x80 | s >> 12 & 0x3F))
            out.append(UInt8(0x80 | s >> 6 & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
        }
    }

    // MARK: Numbers

    private mutating func number() throws(FormatError) -> JSONValue {
        let start = at
        let negative = current == UInt8(ascii: "-")
        if negative { at += 1 }
        guard let first = current, first.isDigit else { throw .json("expected a digit", offset: at) }
        var magnitude: UInt64 = 0
        var overflow = false
        if first == 0x30 {
            at += 1
            if let c = current, c.isDigit { throw .json("leading zero in number", offset: start) }
        } else {
            while let c = current, c.isDigit {
                if !overflow {
                    let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
                    if o1 || o2 { overflow = true } else { magnitude = s }
                }
                at += 1
            }
        }
        var integral = true
        if current == UInt8(ascii: ".") {
            integral = false
            at += 1
            guard let c = current, c.isDigit else { throw .json("expected a digit after '.'", offset: at) }
            while let c = current, c.isDigit { at += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            at += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { at += 1 }
            guard let c = current, c.isDigit else { throw .json("expected a digit in exponent", offset: at) }
            while let c = current, c.isDigit { at += 1 }
        }
        if integral && !overflow {
            if !negative {
                if magnitude <= UInt64(Int64.max) { return .int(Int64(magnitude)) }
            } else if magnitude == 0 {
                return .double(-0.0)  // serde_json keeps the sign of "-0" by reading it as a float
            } else if magnitude <= UInt64(Int64.max) {
                return .int(-Int64(magnitude))
            } else if magnitude == UInt64(Int64.max) + 1 {
                return .int(.min)
            }
        }
        // The slice is ASCII and matches the JSON grammar, which Double's parser accepts.
        guard let d = Double(String(decoding: bytes[start..<at], as: UTF8.self)), d.isFinite else {
            throw .json("number out of range", offset: start)
        }
        return .double(d)
    }
}
