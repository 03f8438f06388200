import Testing
import FlavorTestSupport
@testable import FlavorFormat

private func parse(_ text: String, maxDepth: Int = 64) throws(FormatError) -> JSONValue {
    try JSONValue.parse(Array(text.utf8), maxDepth: maxDepth)
}

/// The offset a parse failure reports, or nil when it did not fail with `.json`.
private func failureOffset(_ bytes: [UInt8], maxDepth: Int = 64) -> Int? {
    do throws(FormatError) {
        _ = try JSONValue.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        if case let .json(_, offset) = error { return offset }
        return nil
    }
}

@Suite("JSON reader")
struct JSONParseTests {
    @Test("compact documents survive parse then compact serialisation unchanged", arguments: [
        #"null"#, #"true"#, #"false"#, #"0"#, #"-1"#, #"42"#, #""""#, #""abc""#,
        #"[]"#, #"{}"#, #"[1,2,3]"#, #"{"a":1,"b":[1,2]}"#,
        #"{"z":1,"a":2,"m":{"y":[],"b":{}}}"#,
        #"[null,true,false,1.5,-0.25,"x",[[]],{"":""}]"#,
        #"9223372036854775807"#, #"-9223372036854775808"#,
        #""é/ü 日本 😀""#, #""\"\\\n\r\t\b\f\u0001\u001f""#,
        #"1e17"#, #"1.5e300"#, #"5e-324"#, #"0.00001"#, #"1e-6"#, #"-0.0"#,
    ])
    func roundTrip(_ text: String) throws {
        let value = try parse(text)
        #expect(value.serializedString(pretty: false) == text)
        #expect(try JSONValue.parse(value.serialized(pretty: true)) == value)
    }

    @Test("whitespace around and between tokens is accepted")
    func whitespace() throws {
        let value = try parse(" \t\r\n{ \"a\" :\n[ 1 ,\t2 ] } \n")
        #expect(value == .object([("a", .array([.int(1), .int(2)]))]))
    }

    @Test("all escapes decode to the right characters")
    func escapes() throws {
        let value = try parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC""#)
        #expect(value == .string("\"\\/\u{8}\u{c}\n\r\tAé€"))
    }

    @Test("a surrogate pair escape decodes to one scalar")
    func surrogatePair() throws {
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try parse(#""a\uD834\uDD1Eb""#) == .string("a𝄞b"))
    }

    @Test("raw UTF-8 of every length is accepted")
    func rawUTF8() throws {
        #expect(try parse("\"\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}\"")
                == .string("\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}"))
    }

    static let malformed: [[UInt8]] = [
        "", " ", "{", "}", "[", "]", "[[]", "[1,]", "[,1]", "[1 2]", "{\"a\":1,}", "{,}", "{a:1}", "{\"a\" 1}",
        "{\"a\":}", "{\"a\"}", "{1:2}", "{\"a\":1 \"b\":2}", "01", "00", "-01", "-", "-a", "+1", ".5", "1.", "1.e5",
        "1e", "1e+", "1E-", "0x10", "1_000", "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "tru", "nul", "fals",
        "True", "nulll", "\"abc", "\"\\", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\U0041\"", "\"a\tb\"", "\"a\nb\"",
        "\"\u{0}\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\\ud800\\ud800\"",
        "[1]x", "1 2", "{} {}", "\u{FEFF}1", "'a'", "[1,,2]", "//", "/* */ 1",
    ].map { Array($0.utf8) } + [
        [0x22, 0xFF, 0x22],                   // invalid byte
        [0x22, 0xC0, 0xAF, 0x22],             // overlong '/'
        [0x22, 0xE0, 0x80, 0xAF, 0x22],       // overlong 3-byte
        [0x22, 0xED, 0xA0, 0x80, 0x22],       // UTF-8 encoded surrogate
        [0x22, 0xE2, 0x82, 0x22],             // truncated sequence
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], // above U+10FFFF
        [0x22, 0x80, 0x22],                   // lone continuation byte
        [0x22, 0xC3],                         // truncated at end of input
        [0xC3, 0xA9],                         // non-ASCII outside a string
    ]

    @Test("malformed documents are refused with a json error", arguments: malformed)
    func malformedRefused(_ bytes: [UInt8]) {
        #expect(failureOffset(bytes) != nil)
    }

    @Test("errors carry the byte offset of the problem", arguments: [
        ("[1,]", 3), ("{\"a\":1,}", 7), ("[1]x", 3), ("01", 0), ("\"a\u{1}\"", 2), ("[1 2]", 3), ("\"\\ud800\"", 1),
    ])
    func errorOffsets(_ text: String, _ offset: Int) {
        #expect(failureOffset(Array(text.utf8)) == offset)
    }

    @Test("nesting up to maxDepth is accepted and one more level is refused")
    func depthLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try parse(ok) }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(failureOffset(Array(deep.utf8)) == 64)
        let objects = String(repeating: "{\"a\":", count: 3) + "1" + String(repeating: "}", count: 3)
        #expect(throws: Never.self) { try parse(objects, maxDepth: 3) }
        #expect(failureOffset(Array(objects.utf8), maxDepth: 2) != nil)
    }

    @Test("a hostile 100 000-deep document throws instead of exhausting the stack")
    func veryDeep() {
        #expect(failureOffset(Array(repeating: UInt8(ascii: "["), count: 100_000)) != nil)
        #expect(failureOffset(Array(repeating: UInt8(ascii: "["), count: 100_000), maxDepth: 1_000_000) != nil)
    }

    @Test("a caller may raise maxDepth for legitimately deep documents")
    func raisedDepth() throws {
        let text = String(repeating: "[", count: 1_000) + String(repeating: "]", count: 1_000)
        #expect(failureOffset(Array(text.utf8)) == 64)
        let value = try parse(text, maxDepth: 1_000)
        #expect(value.serializedString(pretty: false) == text)
    }

    @Test("integers that fit Int64 stay exact; larger ones become doubles", arguments: [
        ("9223372036854775807", JSONValue.int(.max)),
        ("-9223372036854775808", .int(.min)),
        ("9223372036854775808", .double(9223372036854775808.0)),
        ("-9223372036854775809", .double(-9223372036854775809.0)),
        ("123456789012345678901234567890", .double(1.2345678901234568e29)),
        ("0", .int(0)),
        ("-0", .double(-0.0)),
        ("1.0", .double(1.0)),
        ("1E2", .double(100)),
        ("-1.5e-3", .double(-0.0015)),
    ])
    func numbers(_ text: String, _ expected: JSONValue) throws {
        #expect(try parse(text) == expected)
    }

    @Test("intValue also reads integral doubles inside Int64's range", arguments: [
        ("1.0", Int64?.some(1)), ("1e2", 100), ("-2.0", -2), ("1.5", nil), ("1e19", nil), ("\"1\"", nil), ("7", 7),
    ])
    func intValue(_ text: String, _ expected: Int64?) throws {
        #expect(try parse(text).intValue == expected)
    }

    @Test("duplicate keys are refused at any depth, also in large objects and in the deferred parse", arguments: [
        #"{"a":1,"b":2,"a":3}"#,
        #"{"x":{"k":1,"k":2}}"#,
        #"[{"slots":[]},{"c":1,"c":1}]"#,
        #"{"a":"\u0041","\u0061":1,"a":2}"#,
        "{" + (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + ",\"k7\":0}",
    ])
    func duplicates(_ text: String) throws {
        #expect(throws: FormatError.self) { try parse(text) }
        #expect(throws: FormatError.self) { try JSONValue.parse(Array(text.utf8), deferring: "slots") }
        do { _ = try parse(text); Issue.record("accepted") } catch { #expect("\(error)".contains("duplicate key"), "\(error)") }
    }

    @Test("a duplicate of the deferred key itself is refused; keys equal only after Unicode normalisation are distinct")
    func duplicateDeferredKey() throws {
        let text = #"{"slots":[1],"command":"a","slots":[2]}"#
        #expect(throws: FormatError.self) { try JSONValue.parse(Array(text.utf8), deferring: "slots") }
        let value = try parse("{\"\u{e9}\":1,\"e\u{301}\":2}")
        #expect(value.objectValue?.count == 2)
        let many = try parse("{" + (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}")
        #expect(many["k39"] == .int(39))
    }

    @Test("accessors return nil for the wrong kind")
    func accessors() throws {
        let value = try parse(#"{"s":"x","b":true,"a":[1],"o":{"k":null}}"#)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["b"]?.boolValue == true)
        #expect(value["a"]?.arrayValue == [.int(1)])
        #expect(value["o"]?["k"] == .null)
        #expect(value["missing"] == nil)
        #expect(value["s"]?.intValue == nil)
        #expect(value["a"]?.stringValue == nil)
        #expect(value["s"]?["k"] == nil)
        #expect(JSONValue.int(1).boolValue == nil)
        #expect(JSONValue.null.objectValue == nil)
    }

    @Test("keys and strings compare by bytes, not by canonical equivalence")
    func byteEquality() throws {
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(JSONValue.string(composed) != .string(decomposed))
        #expect(JSONValue.object([(composed, .null)])[decomposed] == nil)
    }

    @Test("object equality depends on key order")
    func objectOrder() {
        #expect(JSONValue.object([("a", .int(1)), ("b", .int(2))]) != .object([("b", .int(2)), ("a", .int(1))]))
        #expect(JSONValue.object([("a", .int(1))]) == .object([("a", .int(1))]))
        #expect(JSONValue.int(1) != .double(1))
    }

    @Test("random byte soup never crashes the parser")
    func fuzzSmoke() {
        var rng = SplitMix64(seed: 0x5eed)
        let alphabet = Array("{}[],:\"\\ -+.eE0123456789tfnrul\u{1}".utf8) + [0xC3, 0xA9, 0xED, 0xF4, 0xFF]
        for _ in 0..<5_000 {
            let n = Int(rng.next() % 40)
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            _ = try? JSONValue.parse(bytes, maxDepth: 8)
        }
    }
}

@Suite("JSON writer")
struct JSONWriterTests {
    @Test("pretty output matches serde_json's to_string_pretty byte for byte")
    func prettyLayout() throws {
        let value = try parse(#"{"a": [1, {"b": "x\n"}], "c": {}, "d": [], "e": [[]], "f": null}"#)
        let expected = """
        {
          "a": [
            1,
            {
              "b": "x\\n"
            }
          ],
          "c": {},
          "d": [],
          "e": [
            []
          ],
          "f": null
        }
        """
        #expect(value.serializedString(pretty: true) == expected)
        #expect(value.serialized(pretty: true) == Array(expected.utf8))
    }

    @Test("compact output has no whitespace at all")
    func compact() {
        let value = JSONValue.object([("a", .int(1)), ("b", .array([.int(1), .int(2)])), ("c", .object([]))])
        #expect(value.serializedString(pretty: false) == #"{"a":1,"b":[1,2],"c":{}}"#)
    }

    @Test("scalars at top level pretty-print without a trailing newline", arguments: [
        (JSONValue.null, "null"), (.bool(true), "true"), (.int(-5), "-5"), (.string("a"), "\"a\""),
        (.array([]), "[]"), (.object([]), "{}"),
    ])
    func scalars(_ value: JSONValue, _ text: String) {
        #expect(value.serializedString(pretty: true) == text)
    }

    @Test("strings are escaped like serde_json", arguments: [
        ("\"", #""\"""#), ("\\", #""\\""#), ("\n\r\t\u{8}\u{c}", #""\n\r\t\b\f""#),
        ("\u{0}\u{1}\u{1f}", #""\u0000\u0001\u001f""#), ("\u{1b}", #""\u001b""#),
        ("/", #""/""#), ("\u{7f}", "\"\u{7f}\""), ("é😀", "\"é😀\""), ("\u{2028}", "\"\u{2028}\""),
    ])
    func escaping(_ raw: String, _ json: String) throws {
        #expect(JSONValue.string(raw).serializedString(pretty: false) == json)
        #expect(try parse(json) == .string(raw))
    }

    @Test("doubles print in ryu's shortest layout with .0 on integral values", arguments: [
        (1.0, "1.0"), (-2.5, "-2.5"), (0.1, "0.1"), (100.0, "100.0"), (123456.789, "123456.789"),
        (1e15, "1000000000000000.0"), (1e16, "1e16"), (1.5e16, "1.5e16"), (1.2345678901234568e17, "1.2345678901234568e17"),
        (0.00001, "0.00001"), (0.000123, "0.000123"), (1e-6, "1e-6"), (1.234e-7, "1.234e-7"),
        (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e308"), (0.0, "0.0"), (-0.0, "-0.0"),
        (Double.nan, "null"), (Double.infinity, "null"), (9007199254740993.0, "9007199254740992.0"),
    ])
    func doubles(_ value: Double, _ text: String) {
        #expect(JSONValue.double(value).serializedString(pretty: false) == text)
    }

    @Test("sortedKeys orders keys by UTF-8 bytes, recursively")
    func sortedKeys() throws {
        let value = try parse(#"{"b":1,"é":2,"a":{"y":[{"d":1,"c":2}],"x":3},"B":4,"aa":5}"#)
        #expect(value.sortedKeys().serializedString(pretty: false)
                == #"{"B":4,"a":{"x":3,"y":[{"c":2,"d":1}]},"aa":5,"b":1,"é":2}"#)
    }

    @Test("sortedKeys collapses duplicate keys of a value built in code to the last value, as serde_json's map does")
    func sortedKeysDuplicates() throws {
        let value = JSONValue.object([("b", .int(1)), ("a", .int(2)), ("b", .int(3)), ("a", .int(4))])
        #expect(value.sortedKeys() == .object([("a", .int(4)), ("b", .int(3))]))
    }

    @Test("a key-sorted compact policy serialises as Rust would hash it")
    func policyHashForm() throws {
        let policy = try parse(#"{"require_signature": true, "allowed_keys": ["k2", "k1"], "max_age": 30}"#)
        #expect(policy.sortedKeys().serializedString(pretty: false)
                == #"{"allowed_keys":["k2","k1"],"max_age":30,"require_signature":true}"#)
    }
}
