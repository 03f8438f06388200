import Testing
#if canImport(Glibc)
import Glibc
#endif
import FlavorFormat
@testable import FlavorSys

/// Test data: 8 KiB runs alternating between word-like text and noise, so chunks hit both the
/// libdeflate path and the stored-block path.
private func mixedBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
    let words = ["flavor", "package", "slot", "chunk", "deflate", "launcher", "workenv", "the", "a", "of"].map { Array($0.utf8) }
    var out = [UInt8]()
    out.reserveCapacity(count)
    while out.count < count {
        let noisy = (out.count / 8192 + Int(seed & 3)) % 3 == 2
        let end = min(count, out.count + 8192)
        while out.count < end {
            if noisy { out.append(UInt8(truncatingIfNeeded: next())) } else {
                out += words[Int(next() % UInt64(words.count))]
                out.append(next() % 9 == 0 ? 10 : 32)
            }
        }
        if out.count > end { out.removeSubrange(end...) }
    }
    return out
}

private func gunzipWithZlib(_ gz: [UInt8]) throws -> [UInt8] {
    try gz.withByteReader { (r) throws -> [UInt8] in
        let s = try GzipStream(r)
        var out = [UInt8](), buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try buf.withUnsafeMutableBytes { try s.read(into: $0) }
            if n == 0 { return out }
            out += buf[0..<n]
        }
    }
}

private func compress(_ data: [UInt8], chunk: Int, level: Int32 = 6) -> [UInt8] {
    data.withUnsafeBytes { ChunkedGzip.compress($0, level: level, chunkSize: chunk, workers: 2) }
}

/// Decodes every chunk on its own with the index, as the extractor does; nil if a chunk fails
/// its SHA-256 or the chunks' CRC-32 is not the trailer's.
private func decodeByChunks(_ gz: [UInt8]) throws -> [UInt8]? {
    try gz.withByteReader { (r) throws -> [UInt8]? in
        let index = try #require(try ChunkedGzip.index(r))
        let d = ChunkedGzip.Decoder(maxStoredChunk: index.chunks.map(\.length).max()!, chunkSize: index.chunkSize)
        var out = [UInt8](), crcs = [(crc: UInt32, length: Int)]()
        for (k, c) in index.chunks.enumerated() {
            guard try d.load(r, c, isLast: k == index.chunks.count - 1, verify: true) else { return nil }
            crcs.append((try d.decode(), c.decodedSize))
            out += d.output.toArray()
        }
        return ChunkedGzip.combine(crcs) == index.crc ? out : nil
    }
}

@Suite("ChunkedGzip: one gzip member of independently compressed, indexed chunks")
struct ChunkedGzipTests {
    @Test("ordinary gzip readers (libdeflate, zlib) and the chunk index decode the same bytes",
          arguments: [(300_000, 65_536), (1 << 20, 65_536), (4 * 65_536, 65_536), (700_001, 131_072), (5_000, 65_536)])
    func roundTrip(size: Int, chunk: Int) throws {
        let data = mixedBytes(size, seed: UInt64(size))
        let gz = compress(data, chunk: chunk)
        #expect(try Inflater().gunzip(gz, limit: size) == data)
        #expect(try gunzipWithZlib(gz) == data)
        let index = try #require(try gz.withByteReader { try ChunkedGzip.index($0) })
        #expect(index.chunks.count == (size + chunk - 1) / chunk)
        #expect(index.decodedSize == size && index.chunkSize == chunk)
        #expect(try decodeByChunks(gz) == data)
    }

    @Test("chunk ends with every padding width continue the stream correctly")
    func manyBoundaries() throws {
        // Each seed ends its chunks at a different bit position; zlib must read straight through.
        for seed in 1...48 {
            let data = mixedBytes(3 * 65_536 + Int(seed) * 977, seed: UInt64(seed) &* 0x9E37_79B9)
            let gz = compress(data, chunk: 65_536)
            #expect(try gunzipWithZlib(gz) == data, "seed \(seed)")
            #expect(try decodeByChunks(gz) == data, "seed \(seed)")
        }
    }

    @Test("noise is stored, not compressed: the member is barely larger than the input")
    func incompressible() throws {
        var state: UInt64 = 42
        let noise = (0..<(512 << 10)).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: state >> 33) }
        let gz = compress(noise, chunk: 65_536)
        #expect(gz.count < noise.count + noise.count / 100)
        #expect(try Inflater().gunzip(gz, limit: noise.count) == noise)
    }

    @Test("an ordinary gzip member has no chunk index")
    func plainGzip() throws {
        let gz = Deflater(level: 6).gzip(mixedBytes(100_000, seed: 7))
        #expect(try gz.withByteReader { try ChunkedGzip.index($0) } == nil)
    }

    @Test("a changed byte in a chunk or the trailer fails that chunk's SHA-256")
    func tamperedChunk() throws {
        let data = mixedBytes(400_000, seed: 11)
        let gz = compress(data, chunk: 65_536)
        let index = try #require(try gz.withByteReader { try ChunkedGzip.index($0) })
        for (target, byte) in [(2, index.chunks[2].offset + index.chunks[2].length / 2), (index.chunks.count - 1, gz.count - 7)] {
            var bad = gz
            bad[byte] ^= 0x40
            let verdicts = try bad.withByteReader { (r) throws -> [Bool] in
                let d = ChunkedGzip.Decoder(maxStoredChunk: 1 << 20, chunkSize: index.chunkSize)
                return try index.chunks.enumerated().map { k, c in try d.load(r, c, isLast: k == index.chunks.count - 1, verify: true) }
            }
            #expect(verdicts.enumerated().allSatisfy { $0.element == ($0.offset != target) }, "byte \(byte): \(verdicts)")
        }
    }

    @Test("damaged or truncated headers give an error or no index, never a crash or an out-of-bounds chunk")
    func damagedHeaders() throws {
        let data = mixedBytes(300_000, seed: 5)
        let gz = compress(data, chunk: 65_536)
        let header = try #require(try gz.withByteReader { try ChunkedGzip.index($0) }).headerSize
        var state: UInt64 = 99
        func next(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1; return Int(state >> 33) % n }
        var rejected = 0
        for round in 0..<3000 {
            var bad = gz
            if round % 3 == 0 {
                bad.removeSubrange(next(bad.count)...)
            } else {
                for _ in 0...next(3) { bad[next(header + 8)] = UInt8(truncatingIfNeeded: next(256)) }
            }
            let outcome: Result<ChunkedGzip.Index?, CodecError> = bad.withByteReader { r in
                do throws(CodecError) { return .success(try ChunkedGzip.index(r)) } catch { return .failure(error) }
            }
            guard case let .success(index?) = outcome else { rejected += 1; continue }
            for c in index.chunks { #expect(c.offset >= 0 && c.offset + c.length <= bad.count - 8 && c.finalBit < 8 * c.length) }
            // Decoding must fail cleanly, or give the original bytes (a change the chunks do not
            // depend on, like the gzip mtime, which the signed header digest covers instead).
            if let decoded = try? decodeByChunks(bad) { #expect(decoded == data, "round \(round) decoded other bytes") }
        }
        #expect(rejected > 1000)
    }

    @Test("a source of pieces and a file gives the same member as the bytes in memory; a file shorter than listed is an error")
    func fileSource() throws {
        let body = mixedBytes(500_000, seed: 21)
        let path = "/tmp/chunked-source-\(getpid()).bin"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = body.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let head = Array("header".utf8), tail = [UInt8](repeating: 0, count: 1536)
        let member = try ChunkedGzip.compress(ChunkedGzip.Source([.bytes(head), .file(path: path, size: body.count), .bytes(tail)]),
                                              level: 6, chunkSize: 65_536, workers: 2)
        #expect(member.joined == compress(head + body + tail, chunk: 65_536))
        #expect(throws: SysError.self) {
            try ChunkedGzip.compress(ChunkedGzip.Source([.file(path: path, size: body.count + 10)]), level: 6, chunkSize: 65_536, workers: 2)
        }
    }

    @Test("an index asking for chunks larger than readers allocate is refused")
    func oversizedChunks() throws {
        var gz = compress(mixedBytes(300_000, seed: 3), chunk: 65_536)
        // chunk size field at offset 20: claim 128 MiB per chunk.
        let huge = UInt32(128 << 20)
        for k in 0..<4 { gz[20 + k] = UInt8(truncatingIfNeeded: huge >> (8 * UInt32(k))) }
        #expect(throws: CodecError.self) { try gz.withByteReader { try ChunkedGzip.index($0) } }
        #expect(ChunkedGzip.chunkSize(for: 1 << 40, preferred: 4 << 20) == nil)
        #expect(ChunkedGzip.chunkSize(for: 8 << 30, preferred: 4 << 20) == 8 << 20)
    }
}
