internal import CDeflate
internal import CZlib
import FlavorFormat
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// One gzip member whose DEFLATE stream is a concatenation of independently compressed chunks
// (no back-references across a chunk boundary, each chunk starting on a byte boundary), with
// an index of the chunks in the gzip header's FEXTRA field (subfield "FC"). Any gzip reader
// decodes it as ordinary gzip, so upstream launchers run it; ours uses the index to compress
// and decompress the chunks of one big file on every core.
//
// Chunks are compressed by libdeflate, which always ends its output with a final block. To
// continue the stream, the final block's BFINAL bit is cleared and an empty stored block
// follows (zlib's sync marker), which pads to the next byte boundary; the index records where
// that BFINAL bit is so a reader can set it again and decode the chunk alone with libdeflate.
//
// FEXTRA subfield "FC", little-endian:
//   u8 version (1), 3 bytes zero, u32 chunk size, u32 chunk count, u64 decoded size,
//   then per chunk: u32 stored length (marker included), u32 bit offset of its last block header,
//   32-byte SHA-256 of its stored bytes (the last chunk's with the 8-byte gzip trailer).
// Signing the SHA-256 of the header (everything before chunk 0) binds every byte of the member
// to the signature while each chunk is verified by the worker that decodes it.

public enum ChunkedGzip {
    public static let version: UInt8 = 1
    /// The FEXTRA field holds at most 65,535 bytes: 4 subfield header + 20 fixed + 40 per chunk.
    public static let maxChunks = (65535 - 24) / entryBytes
    static let entryBytes = 40
    /// Readers allocate a chunk-sized buffer per worker, so an index asking for more is refused.
    public static let maxChunkSize = 64 << 20
    static let syncMarker: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    public struct Chunk: Sendable, Equatable {
        /// Byte offset of the chunk inside the gzip member and its stored length.
        public var offset: Int
        public var length: Int
        /// Bit offset (from `offset`) of the header of the chunk's last DEFLATE block.
        public var finalBit: Int
        public var decodedSize: Int
        /// SHA-256 of the stored bytes (for the last chunk, followed by the gzip trailer).
        public var digest: [UInt8]
    }

    public struct Index: Sendable, Equatable {
        public var chunkSize: Int
        public var decodedSize: Int
        public var chunks: [Chunk]
        /// CRC-32 from the gzip trailer.
        public var crc: UInt32
        /// Bytes before chunk 0: the gzip header with this index; its SHA-256 is what gets signed.
        public var headerSize: Int { chunks[0].offset }
    }

    /// The chunk size for `total` bytes: `preferred`, or larger when the index would not fit;
    /// nil when even `maxChunkSize` chunks would not (over 100 GiB: write ordinary gzip).
    public static func chunkSize(for total: Int, preferred: Int) -> Int? {
        var size = min(max(preferred, 1), maxChunkSize)
        while (total + size - 1) / size > maxChunks {
            guard size * 2 <= maxChunkSize else { return nil }
            size *= 2
        }
        return size
    }

    // MARK: Compression

    /// What `compress` reads: in-memory pieces and whole files, concatenated. A big file's tar
    /// stream is its header, the file and the zero blocks after it, so no copy of the whole
    /// stream is ever held in memory: each worker reads only the chunk it compresses.
    public struct Source: Sendable {
        public enum Piece: Sendable {
            case bytes([UInt8])
            /// The first `size` bytes of the file at `path` (its size when it was listed).
            case file(path: String, size: Int)
            var count: Int { switch self { case let .bytes(b): return b.count; case let .file(_, n): return n } }
        }
        public let pieces: [Piece]
        public let count: Int
        public init(_ pieces: [Piece]) { self.pieces = pieces; count = pieces.reduce(0) { $0 + $1.count } }

        /// Fills `buf` with the bytes at `offset`.
        func read(at offset: Int, into buf: UnsafeMutableRawBufferPointer) throws(SysError) {
            var start = 0, filled = 0
            for piece in pieces {
                let end = start + piece.count
                defer { start = end }
                let lo = max(offset + filled, start), hi = min(offset + buf.count, end)
                guard lo < hi else { continue }
                let dest = UnsafeMutableRawBufferPointer(rebasing: buf[filled..<filled + (hi - lo)])
                switch piece {
                case let .bytes(b):
                    b.withUnsafeBytes { dest.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[(lo - start)..<(hi - start)])) }
                case let .file(path, _):
                    let fd = try FS.open(path, O_RDONLY)
                    defer { FS.close(fd) }
                    // The header already says how big the file is.
                    try FS.preadAll(fd, into: dest, at: lo - start, path: path, shortMeans: "the file shrank while packing")
                }
                filled += hi - lo
            }
        }
    }

    /// A compressed member as pieces to write one after the other: the header with the chunk
    /// index (what the metadata signs), each chunk, then the gzip trailer.
    public struct Member: Sendable {
        public var segments: [[UInt8]]
        public var count: Int { segments.reduce(0) { $0 + $1.count } }
        public var header: [UInt8] { segments[0] }
        public var joined: [UInt8] { Array(segments.joined()) }
    }

    /// gzip of `data` as independently compressed chunks on up to `workers` threads.
    public static func compress(_ data: UnsafeRawBufferPointer, level: Int32, chunkSize preferred: Int, workers: Int) -> [UInt8] {
        do { return try compress(Source([.bytes(Array(data))]), level: level, chunkSize: preferred, workers: workers).joined } catch {
            fatalError("in-memory source failed: \(error)")
        }
    }

    /// Worker-owned input buffer for one chunk; used by one thread at a time.
    final class ChunkBuffer: @unchecked Sendable {
        let bytes: UnsafeMutableRawBufferPointer
        init(_ n: Int) { bytes = .allocate(byteCount: max(n, 1), alignment: 64) }
        deinit { bytes.deallocate() }
    }

    /// gzip of `source` as independently compressed chunks on up to `workers` threads.
    public static func compress(_ source: Source, level: Int32, chunkSize preferred: Int, workers: Int) throws(SysError) -> Member {
        let total = source.count
        // Callers check chunkSize(for:) first: past it the index could not describe the chunks.
        guard let size = chunkSize(for: total, preferred: preferred) else { preconditionFailure("\(total) bytes need more than \(maxChunks) chunks") }
        let count = max(1, (total + size - 1) / size)
        let results = Mutex([(bytes: [UInt8], finalBit: Int, crc: UInt32, digest: [UInt8])?](repeating: nil, count: count))
        let failure = Mutex<SysError?>(nil)
        let buffers = (0..<max(1, min(workers, count))).map { _ in ChunkBuffer(size) }
        WorkerPool.parallelFor(jobs: count, workers: buffers.count) { k, w in
            if failure.withLock({ $0 != nil }) { return }
            let lo = k * size
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffers[w].bytes[0..<(min(lo + size, total) - lo)])
            do throws(SysError) { try source.read(at: lo, into: piece) } catch {
                failure.withLock { if $0 == nil { $0 = error } }
                return
            }
            let input = UnsafeRawBufferPointer(piece)
            let (bytes, finalBit) = encodeChunk(input, isLast: k == count - 1, level: level)
            let crc = UInt32(libdeflate_crc32(0, input.baseAddress, input.count))
            let digest = k == count - 1 ? [] : SHA256.hash(bytes)   // the last one waits for the trailer
            results.withLock { $0[k] = (bytes, finalBit, crc, digest) }
        }
        if let e = failure.withLock({ $0 }) { throw e }
        let encoded = results.withLock { $0 }.map { $0! }
        let crc = combine(encoded.enumerated().map { (crc: $1.crc, length: min(size, total - $0 * size)) })
        var trailer = [UInt8]()
        trailer.appendLE(crc)
        trailer.appendLE(UInt32(truncatingIfNeeded: total))
        var lastDigest = SHA256()
        lastDigest.update(encoded[count - 1].bytes)
        lastDigest.update(trailer)
        let lastHash = lastDigest.finalize()

        var header = [UInt8]()
        let xlen = 4 + 20 + entryBytes * count
        header.reserveCapacity(12 + xlen)
        header += [0x1F, 0x8B, 8, 0x04, 0, 0, 0, 0, 0, 3]   // FEXTRA, no mtime, OS Unix
        header.appendLE(UInt16(xlen))
        header += [UInt8(ascii: "F"), UInt8(ascii: "C")]
        header.appendLE(UInt16(xlen - 4))
        header += [version, 0, 0, 0]
        header.appendLE(UInt32(size))
        header.appendLE(UInt32(count))
        header.appendLE(UInt64(total))
        for (k, e) in encoded.enumerated() {
            header.appendLE(UInt32(e.bytes.count))
            header.appendLE(UInt32(e.finalBit))
            header += k == count - 1 ? lastHash : e.digest
        }
        return Member(segments: [header] + encoded.map { $0.bytes } + [trailer])
    }

    /// One chunk as raw DEFLATE that a following chunk can continue (unless it is the last),
    /// and the bit offset of its last block header.
    static func encodeChunk(_ input: UnsafeRawBufferPointer, isLast: Bool, level: Int32) -> ([UInt8], Int) {
        if level == 0 || looksIncompressible(input) { return storedBlocks(input, isLast: isLast) }
        guard let c = libdeflate_alloc_compressor(level) else { fatalError("libdeflate_alloc_compressor: out of memory") }
        defer { libdeflate_free_compressor(c) }
        // Compressed into scratch and copied out at its size: an array sized to the bound would
        // keep (and first zero) bound-sized capacity for every chunk until the package is written.
        let bound = libdeflate_deflate_compress_bound(c, input.count)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: bound + 1, alignment: 64)
        defer { scratch.deallocate() }
        let n = libdeflate_deflate_compress(c, input.baseAddress, input.count, scratch.baseAddress, bound)
        precondition(n > 0, "deflate bound was too small")
        var raw = [UInt8]()
        raw.reserveCapacity(n + 5)
        raw += UnsafeRawBufferPointer(rebasing: scratch[0..<n])
        var finalStart = 0, end = 0
        var walk = [UInt8](repeating: 0, count: 256 << 10)
        let walked = raw.withUnsafeBytes { r in
            walk.withUnsafeMutableBytes { s in
                CZlib_deflateFinalBlock(r.baseAddress!.assumingMemoryBound(to: UInt8.self), r.count,
                                        s.baseAddress!.assumingMemoryBound(to: UInt8.self), s.count, &finalStart, &end)
            }
        }
        // Our own compressor's output always walks; stored blocks are the safe answer if not.
        guard walked == 0, end <= n * 8, n * 8 - end < 8 else { return storedBlocks(input, isLast: isLast) }
        if isLast { return (raw, finalStart) }
        raw[finalStart >> 3] &= ~(1 << UInt8(finalStart & 7))
        let pad = n * 8 - end
        // The bits after the end-of-block code become the stored block's header: make them zero.
        if pad > 0 { raw[n - 1] &= UInt8((1 << (8 - pad)) - 1) }
        if pad < 3 { raw.append(0) }   // the 3-bit header spills into a byte of its own
        raw += syncMarker
        return (raw, finalStart)
    }

    /// Stored blocks need no matching; random or already compressed data gains nothing else.
    static func storedBlocks(_ input: UnsafeRawBufferPointer, isLast: Bool) -> ([UInt8], Int) {
        var out = [UInt8]()
        out.reserveCapacity(input.count + 5 * (input.count / 65535 + 1))
        var pos = 0, lastHeader = 0
        repeat {
            let len = min(65535, input.count - pos)
            let final = isLast && pos + len == input.count
            lastHeader = out.count
            out.append(final ? 1 : 0)
            out.appendLE(UInt16(len))
            out.appendLE(~UInt16(len))
            out += UnsafeRawBufferPointer(rebasing: input[pos..<pos + len])
            pos += len
        } while pos < input.count
        return (out, lastHeader * 8)
    }

    /// True when samples across the chunk do not shrink at the fastest level.
    static func looksIncompressible(_ input: UnsafeRawBufferPointer) -> Bool {
        guard let c = libdeflate_alloc_compressor(1) else { return false }
        defer { libdeflate_free_compressor(c) }
        let sample = min(16 << 10, input.count)
        let samples = input.count >= 4 * sample ? 4 : 1
        var out = [UInt8](repeating: 0, count: sample)
        for s in 0..<samples {
            let lo = samples == 1 ? 0 : s * (input.count - sample) / (samples - 1)
            // libdeflate returns 0 when the result does not fit: here, when it saves < 2%.
            let n = out.withUnsafeMutableBytes { o in
                libdeflate_deflate_compress(c, input.baseAddress! + lo, sample, o.baseAddress, sample * 98 / 100)
            }
            if n != 0 { return false }
        }
        return true
    }

    // MARK: Index

    /// The chunk index of a gzip member, nil when it has none (ordinary gzip). A present but
    /// inconsistent index is an error: it would describe bytes other than the ones there.
    public static func index(_ gz: ByteReader) throws(CodecError) -> Index? {
        guard gz.count >= 18, gz[0] == 0x1F, gz[1] == 0x8B, gz[2] == 8, gz[3] == 0x04 else { return nil }
        let xlen = Int(gz[10]) | Int(gz[11]) << 8
        let dataStart = 12 + xlen
        guard dataStart + 8 <= gz.count else { return nil }
        var p = 12
        var field: (Int, Int)? = nil
        while p + 4 <= dataStart {
            let len = Int(gz[p + 2]) | Int(gz[p + 3]) << 8
            guard p + 4 + len <= dataStart else { return nil }
            if gz[p] == UInt8(ascii: "F") && gz[p + 1] == UInt8(ascii: "C") { field = (p + 4, len); break }
            p += 4 + len
        }
        guard let (f, len) = field, len >= 20, gz[f] == version else { return nil }
        func u32(_ o: Int) -> Int { Int(gz[o]) | Int(gz[o + 1]) << 8 | Int(gz[o + 2]) << 16 | Int(gz[o + 3]) << 24 }
        let size = u32(f + 4), count = u32(f + 8)
        let total = u32(f + 12) | u32(f + 16) << 32
        guard size > 0, size <= maxChunkSize else { throw .corrupt("chunk index: chunk size \(size) outside 1...\(maxChunkSize)") }
        guard count > 0, len == 20 + entryBytes * count else { throw .corrupt("chunk index: \(count) chunks in \(len) bytes") }
        guard total > (count - 1) * size, total <= count * size else {
            throw .corrupt("chunk index: \(total) bytes do not fill \(count) chunks of \(size)")
        }
        var chunks = [Chunk]()
        chunks.reserveCapacity(count)
        var offset = dataStart
        for k in 0..<count {
            let e = f + 20 + entryBytes * k
            let length = u32(e), finalBit = u32(e + 4)
            guard length > 0, finalBit < length * 8, offset + length <= gz.count - 8 else {
                throw .corrupt("chunk index: chunk \(k) lies outside the data")
            }
            let digest = gz.withUnsafeBytes { [UInt8]($0[(e + 8)..<(e + 40)]) }
            chunks.append(Chunk(offset: offset, length: length, finalBit: finalBit,
                                decodedSize: k == count - 1 ? total - k * size : size, digest: digest))
            offset += length
        }
        guard offset == gz.count - 8 else { throw .corrupt("chunk index: chunks end at \(offset), data at \(gz.count - 8)") }
        let crc = UInt32(truncatingIfNeeded: u32(gz.count - 8))
        guard UInt32(truncatingIfNeeded: u32(gz.count - 4)) == UInt32(truncatingIfNeeded: total) else {
            throw .corrupt("chunk index: decoded size \(total) disagrees with the gzip trailer")
        }
        return Index(chunkSize: size, decodedSize: total, chunks: chunks, crc: crc)
    }

    /// CRC-32 of a concatenation from the CRCs and lengths of its parts.
    public static func combine(_ parts: [(crc: UInt32, length: Int)]) -> UInt32 {
        guard var crc = parts.first?.crc else { return 0 }
        for p in parts.dropFirst() { crc = UInt32(crc32_combine(uLong(crc), uLong(p.crc), off_t(p.length))) }
        return crc
    }
}

extension ChunkedGzip {
    /// One worker's state for decoding chunks: a libdeflate decompressor, a copy of the current
    /// chunk (its last block gets marked final there; the mapping is read-only) and its output.
    /// Used by one thread at a time; `output` is valid until the next `load`.
    public final class Decoder: @unchecked Sendable {
        private let inflater = Inflater()
        private let stored: UnsafeMutableRawBufferPointer
        private let decoded: UnsafeMutableRawBufferPointer
        private var loaded: Chunk?
        private var produced = 0

        public init(maxStoredChunk: Int, chunkSize: Int) {
            stored = .allocate(byteCount: max(maxStoredChunk, 1), alignment: 64)
            decoded = .allocate(byteCount: max(chunkSize, 1), alignment: 64)
        }

        deinit { stored.deallocate(); decoded.deallocate() }

        /// Copies chunk `c` of `gz`; with `verify`, returns whether it matches its SHA-256
        /// (for the last chunk, followed by the gzip trailer).
        public func load(_ gz: ByteReader, _ c: Chunk, isLast: Bool, verify: Bool) throws(CodecError) -> Bool {
            loaded = nil; produced = 0
            guard stored.count >= c.length, decoded.count >= c.decodedSize, c.offset + c.length <= gz.count,
                  !isLast || c.offset + c.length + 8 == gz.count else {
                throw .corrupt("chunk at byte \(c.offset) lies outside its buffers")
            }
            let copy = UnsafeMutableRawBufferPointer(rebasing: stored[0..<c.length])
            let matches = gz.withUnsafeBytes { raw in
                copy.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[c.offset..<c.offset + c.length]))
                guard verify else { return true }
                var h = SHA256()
                h.update(UnsafeRawBufferPointer(copy))
                if isLast { h.update(UnsafeRawBufferPointer(rebasing: raw[(raw.count - 8)...])) }
                return h.finalize() == c.digest
            }
            loaded = c
            return matches
        }

        /// Decodes the loaded chunk into `output` (exactly its decoded size); returns its CRC-32.
        public func decode() throws(CodecError) -> UInt32 {
            guard let c = loaded else { throw .corrupt("no chunk loaded") }
            stored[c.finalBit >> 3] |= 1 << UInt8(c.finalBit & 7)
            var consumed = 0
            let r = libdeflate_deflate_decompress_ex(inflater.handle, stored.baseAddress, c.length, decoded.baseAddress, c.decodedSize, &consumed, nil)
            switch r {
            case LIBDEFLATE_SUCCESS: break
            case LIBDEFLATE_SHORT_OUTPUT: throw .corrupt("chunk at byte \(c.offset) decodes short")
            case LIBDEFLATE_INSUFFICIENT_SPACE: throw .tooLarge(limit: c.decodedSize)
            default: throw .corrupt("chunk at byte \(c.offset)")
            }
            // Only an empty stored block (the continuation marker) may follow the chunk's blocks.
            let rest = UnsafeRawBufferPointer(rebasing: stored[consumed..<c.length])
            guard rest.isEmpty || rest.elementsEqual(syncMarker) || rest.elementsEqual([0] + syncMarker) else {
                throw .corrupt("chunk at byte \(c.offset): \(rest.count) unexpected bytes after its last block")
            }
            produced = c.decodedSize
            return UInt32(libdeflate_crc32(0, decoded.baseAddress, c.decodedSize))
        }

        /// The last decoded chunk; valid until the next `load`.
        public var output: ByteReader { ByteReader(unsafeBorrowing: UnsafeRawBufferPointer(rebasing: decoded[0..<produced])) }
    }
}
