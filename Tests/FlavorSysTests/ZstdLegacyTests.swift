import Testing
import FlavorFormat
@testable import FlavorSys

@Suite("zstd pre-1.0 frames")
struct ZstdLegacyTests {
    @Test("a frame with a v0.5–v0.7 magic is refused by name; its content size is unknown", arguments: [UInt8(0x25), 0x26, 0x27])
    func legacyRefused(low: UInt8) throws {
        let frame: [UInt8] = [low, 0xB5, 0x2F, 0xFD] + [UInt8](repeating: 0, count: 60)
        #expect(frame.withUnsafeBytes { Zstd.isLegacyFrame($0) })
        #expect(frame.withUnsafeBytes { Zstd.frameContentSize($0) } == nil)
        var out = [UInt8](repeating: 0, count: 64)
        let error = #expect(throws: CodecError.self) {
            _ = try frame.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try Zstd.decompress(i, into: $0) } }
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("pre-1.0"))
    }

    @Test("a current frame (magic 0xFD2FB528) still decodes")
    func currentFrame() throws {
        let data = Array("the same bytes again and again, the same bytes again".utf8)
        let frame = Zstd.compress(data, level: 3)
        #expect(Array(frame[0..<4]) == [0x28, 0xB5, 0x2F, 0xFD] && !frame.withUnsafeBytes { Zstd.isLegacyFrame($0) })
        var out = [UInt8](repeating: 0, count: data.count)
        let n = try frame.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try Zstd.decompress(i, into: $0) } }
        #expect(n == data.count && out == data)
    }
}
