import Testing
import FlavorTestSupport
@testable import FlavorFormat

/// The launcher parses the metadata's slot list only when it needs it (a warm start does not):
/// the deferred parse must see the same document, count the same slots, and fail where the
/// eager parse fails once the slots are asked for.
@Suite("metadata with the slot list deferred")
struct DeferredSlotsTests {
    static func document(slots: String) -> String {
        """
        {"format": "PSPF/2025", "package": {"name": "p", "version": "1"},
         "slots": \(slots),
         "execution": {"command": "{workenv}/bin/x", "env": {"A": "b"}}, "setup_commands": []}
        """
    }

    static let slotLists = [
        "[]",
        #"[{"slot": 0, "id": "a", "source": "s", "target": "t", "size": 1, "checksum": "", "operations": "tgz", "purpose": "payload", "lifecycle": "lazy"}]"#,
        #"[{"slot": 0, "id": "br]ack{et\"s", "target": "x/[y]"}, {"slot": 1, "id": "n", "nested": [[1, 2], {"k": [3]}], "target": "\\\"q\\\\"}, {"slot": 2, "id": "é"}]"#,
        "  [ { \"slot\" : 0 } , { \"slot\" : 1 } ]  ",
    ]

    @Test("the deferred parse gives the same document, slot count and slots as the full one", arguments: slotLists)
    func sameAsEager(_ slots: String) throws {
        let bytes = Array(Self.document(slots: slots).utf8)
        let eager = try Metadata(jsonBytes: bytes)
        let lazy = try Metadata(jsonBytes: bytes, deferSlots: true)
        #expect(lazy.slotCount == eager.slots.count)
        #expect(lazy.command == eager.command && lazy.packageName == eager.packageName)
        #expect(lazy.executionEnv.map { "\($0)=\($1)" } == eager.executionEnv.map { "\($0)=\($1)" })
        _ = try lazy.resolvingSlots()
        #expect(lazy.slots.map(\.id) == eager.slots.map(\.id))
        #expect(lazy.slots.map(\.target) == eager.slots.map(\.target))
        #expect(lazy.json == eager.json)
        let (partial, deferred) = try JSONValue.parse(bytes, deferring: "slots")
        #expect(partial["slots"] == .null)
        let range = try #require(deferred).range
        #expect(try JSONValue.parse(Array(bytes[range])) == eager.json["slots"])
    }

    @Test("a known position of the slot list (a memo of these bytes) is taken as scanned; one that does not fit is scanned again", arguments: slotLists)
    func knownPosition(_ slots: String) throws {
        let bytes = Array(Self.document(slots: slots).utf8)
        let scanned = try Metadata(jsonBytes: bytes, deferSlots: true)
        let list = try #require(scanned.deferredSlotList)
        let known = try Metadata(jsonBytes: bytes, deferSlots: true, slotsAt: list)
        #expect(known.deferredSlotList == list && known.slotCount == scanned.slotCount && known.json == scanned.json)
        // Taken without a scan: an element count that only the memo says shows it.
        let told = JSONValue.Deferred(range: list.range, elements: list.elements + 5)
        #expect(try Metadata(jsonBytes: bytes, deferSlots: true, slotsAt: told).slotCount == list.elements + 5)
        // Not where the value starts, not ending in its bracket, past the end: scanned, so the truth.
        let wrong = [JSONValue.Deferred(range: list.range.lowerBound + 1..<list.range.upperBound, elements: 99),
                     JSONValue.Deferred(range: list.range.lowerBound..<list.range.upperBound + 1, elements: 99),
                     JSONValue.Deferred(range: list.range.lowerBound..<bytes.count + 10, elements: 99)]
        for w in wrong {
            let m = try Metadata(jsonBytes: bytes, deferSlots: true, slotsAt: w)
            #expect(m.deferredSlotList == list, "\(w)")
        }
    }

    @Test("a malformed slot entry: the eager parse refuses it, the deferred one when the slots are asked for")
    func malformedEntry() throws {
        let bytes = Array(Self.document(slots: #"[{"slot": 0}, {"slot": 7}]"#).utf8)
        #expect(throws: FormatError.self) { try Metadata(jsonBytes: bytes) }
        let lazy = try Metadata(jsonBytes: bytes, deferSlots: true)
        #expect(lazy.slotCount == 2)
        #expect(throws: FormatError.self) { _ = try lazy.resolvingSlots() }
        #expect(lazy.slots.isEmpty)
    }

    @Test("damaged documents make the deferring parser throw or agree with the full parser, never crash")
    func damaged() throws {
        let base = Array(Self.document(slots: Self.slotLists[2]).utf8)
        var rng = SplitMix64(seed: 77)
        var agreed = 0
        for round in 0..<4000 {
            var b = base
            if round % 4 == 0 {
                b.removeSubrange(rng.below(b.count)...)
            } else {
                for _ in 0...rng.below(3) { b[rng.below(b.count)] = Array(#"[]{}",\: a0"#.utf8)[rng.below(11)] }
            }
            let full = try? JSONValue.parse(b)
            guard let (partial, deferred) = try? JSONValue.parse(b, deferring: "slots") else { continue }
            // Whenever the deferring parser accepts a document, the part it parsed is what the full
            // parser sees, and the deferred bytes are the member's value.
            if let full, let deferred, let slots = try? JSONValue.parse(Array(b[deferred.range])) {
                #expect(full["slots"] == slots)
                #expect(full["execution"] == partial["execution"])
                agreed += 1
            }
        }
        #expect(agreed > 100)
    }
}
