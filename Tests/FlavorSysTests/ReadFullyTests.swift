import Testing
import Glibc
@testable import FlavorSys

@Suite("FS.readFully with an expected size (pack's one-read-per-file path)")
struct ReadFullyTests {
    /// Writes `count` bytes to a new file and reads it back asking for `expected + 1`, as pack does.
    static func readBack(fileBytes count: Int, expected: Int) throws -> Int {
        let path = "/tmp/flavor-readfully-\(getpid())-\(count)-\(expected)"
        defer { unlink(path) }
        let w = try FS.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        try FS.writeAll(w, [UInt8](repeating: 0x5A, count: count), path: path)
        FS.close(w)
        let fd = try FS.open(path, O_RDONLY)
        defer { FS.close(fd) }
        var buffer = [UInt8](repeating: 0, count: expected + 1)
        return try FS.readFully(fd, into: &buffer, at: 0, count: expected + 1, enough: expected, path: path)
    }

    @Test("a file of the expected size reads as that size", arguments: [0, 1, 4095, 4096, 300_000])
    func sameSize(_ n: Int) throws {
        #expect(try Self.readBack(fileBytes: n, expected: n) == n)
    }

    @Test("a file that grew since it was listed reads one byte more, so pack notices", arguments: [(0, 1), (10, 11), (4096, 9000)])
    func grew(_ sizes: (Int, Int)) throws {
        #expect(try Self.readBack(fileBytes: sizes.1, expected: sizes.0) == sizes.0 + 1)
    }

    @Test("a file that shrank reads short")
    func shrank() throws {
        #expect(try Self.readBack(fileBytes: 100, expected: 200) == 100)
    }
}
