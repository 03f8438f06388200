import Testing
import FlavorFormat
@testable import FlavorSys

/// `GzipStream.gunzip`, the launcher's metadata decoder: it sizes its buffer from the gzip trailer's
/// ISIZE, which the file may state wrongly, and must still return exactly the data, within the limit.
@Suite("GzipStream.gunzip")
struct GzipStreamTests {
    static let text = Array((0..<3000).map { "line \($0) of the metadata\n" }.joined().utf8)

    /// `gz` with the trailer's ISIZE (last four bytes) replaced.
    static func withISIZE(_ gz: [UInt8], _ size: UInt32) -> [UInt8] {
        var b = gz
        for k in 0..<4 { b[b.count - 4 + k] = UInt8(truncatingIfNeeded: size >> (8 * UInt32(k))) }
        return b
    }

    static func gunzip(_ gz: [UInt8], limit: Int) throws(CodecError) -> [UInt8] {
        try gz.withByteReader { (r) throws(CodecError) -> [UInt8] in try GzipStream.gunzip(r, limit: limit) }
    }

    @Test("an exact, a too small, a too large and a zero size hint all give the data", arguments: [0, 1, 100, 4096, 1 << 20] as [UInt32?] + [nil])
    func hints(hint: UInt32?) throws {
        let gz = Deflater(level: 6).gzip(Self.text)
        let stated = hint.map { Self.withISIZE(gz, $0) } ?? gz   // nil: the true size
        // zlib checks ISIZE at the end of the member; a wrong one is a corrupt stream, never wrong data.
        if let hint, Int(hint) != Self.text.count {
            #expect(throws: CodecError.self) { _ = try Self.gunzip(stated, limit: 1 << 20) }
        } else {
            #expect(try Self.gunzip(stated, limit: 1 << 20) == Self.text)
        }
    }

    @Test("data that fills the limit exactly is returned; one byte more is refused as too large")
    func limit() throws {
        let gz = Deflater(level: 6).gzip(Self.text)
        #expect(try Self.gunzip(gz, limit: Self.text.count) == Self.text)
        #expect(throws: CodecError.tooLarge(limit: Self.text.count - 1)) { _ = try Self.gunzip(gz, limit: Self.text.count - 1) }
    }

    @Test("two concatenated members decode to both halves (the first member's ISIZE is not the total)")
    func members() throws {
        let half = Array(Self.text[..<1000]), rest = Array(Self.text[1000...])
        let gz = Deflater(level: 6).gzip(half) + Deflater(level: 1).gzip(rest)
        #expect(try Self.gunzip(gz, limit: 1 << 20) == Self.text)
    }
}
