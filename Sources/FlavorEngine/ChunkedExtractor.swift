import FlavorFormat
import FlavorSys
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Extraction of a gzip tar slot that holds one big file as a ChunkedGzip stream: chunk 0 is
/// decoded first for the tar header; then every core verifies, decodes and writes chunks (each
/// one's part of the file with pwrite). Memory is two chunk buffers per worker whatever the
/// file size, and the package pages behind each chunk are released as it is done.
///
/// The result is byte for byte what an ordinary gzip reader gets (the trailer CRC-32 is checked
/// against the chunks' CRCs); a layout our packer never writes (a second member, a header
/// beyond chunk 0) is refused.
enum ChunkedExtractor {
    /// With `verify`, the header's SHA-256 must be `signedHeaderDigest` (from the signed metadata)
    /// and each chunk must match its SHA-256 in the header before it is decoded; `verify` is told
    /// of a mismatch and says whether to go on (lenient validation levels).
    static func extract(_ pkg: PackageReader, slot i: Int, stored: ByteReader, index: ChunkedGzip.Index, declaredSize: UInt64?,
                        signedHeaderDigest: [UInt8]?, verify: (@Sendable (EngineError) -> Bool)?,
                        into writer: TreeWriter, settings: Settings, what: String) throws(EngineError) {
        @Sendable func fail(_ why: String) -> EngineError { EngineError(.extraction, "\(what): \(why)") }
        if let d = declaredSize, d != UInt64(index.decodedSize) {
            throw fail("chunk index declares \(index.decodedSize) bytes, descriptor \(d)")
        }
        guard index.decodedSize <= settings.maxSlotBytes else {
            throw fail("decoded size \(index.decodedSize) exceeds the limit of \(settings.maxSlotBytes) bytes (FLAVOR_MAX_SLOT_BYTES)")
        }
        var checkChunks = verify != nil
        if let verify {
            let head = try? stored.slice(0..<index.headerSize)
            if head.map(SHA256.hash) != signedHeaderDigest {
                let e = EngineError(.integrity, "\(what): chunk index does not match the SHA-256 in the signed metadata")
                if !verify(e) { throw e }
                checkChunks = false
            }
        }
        let verifyChunks = checkChunks
        let chunks = index.chunks
        let last = chunks.count - 1
        let workers = max(1, min(settings.workerCount, chunks.count))
        let maxStored = chunks.map { $0.length }.max() ?? 0
        let decoders = (0..<workers).map { _ in ChunkedGzip.Decoder(maxStoredChunk: maxStored, chunkSize: index.chunkSize) }
        let base = Int(pkg.descriptors[i].offset)

        /// Copies, verifies and decodes chunk k with `d`; returns its CRC-32.
        @Sendable func decode(_ k: Int, _ d: ChunkedGzip.Decoder) throws(EngineError) -> UInt32 {
            let matches: Bool
            do { matches = try d.load(stored, chunks[k], isLast: k == last, verify: verifyChunks) } catch { throw fail("chunk \(k): \(error)") }
            if !matches {
                let e = EngineError(.integrity, "\(what): chunk \(k) (stored bytes at \(chunks[k].offset)) fails the SHA-256 of the signed chunk index")
                if !(verify?(e) ?? false) { throw e }
            }
            do { return try d.decode() } catch { throw fail("chunk \(k): \(error)") }
        }

        // Chunk 0 carries the tar header(s): directories, then the file.
        let crc0 = try decode(0, decoders[0])
        var reader = TarReader(decoders[0].output, headersOnly: true)
        var member: TarEntry?
        var headerEnd = 0
        while member == nil {
            let e: TarEntry?
            do { e = try reader.next() } catch { throw fail("tar header in chunk 0: \(error)") }
            guard let e else { throw fail("chunked slot holds no file") }
            switch e.kind {
            case .directory:
                if !TreeWriter.isRoot(e.path) { try writer.makeDirectory(e.path, mode: e.mode == 0 ? 0o755 : e.mode, what: what) }
            case .file:
                member = e; headerEnd = reader.offset
            default:
                throw fail("chunked slot holds a \(e.kind) member; only directories and one file are allowed")
            }
        }
        let entry = member!
        let dataStart = headerEnd, dataEnd = headerEnd + entry.size
        guard dataEnd + Tar.padding(after: entry.size) + Tar.endOfArchive.count <= index.decodedSize else {
            throw fail("\(entry.path): \(entry.size) bytes do not fit the \(index.decodedSize) decoded bytes")
        }
        let file = try writer.openStreamingFile(entry.path, mode: entry.mode == 0 ? 0o644 : entry.mode, what: what)
        let fd = file.fd, path = file.path, name = entry.path
        var closed = false
        defer { if !closed { FS.close(fd); _ = Glibc.unlink(path) } }

        /// Writes chunk k's share of the file; what follows the file must be tar padding (zeros).
        @Sendable func place(_ k: Int, _ data: ByteReader) throws(EngineError) {
            let lo = k * index.chunkSize, hi = lo + data.count
            let from = max(lo, dataStart), to = min(hi, dataEnd)
            if from < to {
                let piece: ByteReader
                do { piece = try data.slice(from - lo..<to - lo) } catch { throw fail("chunk \(k): \(error)") }
                do { try FS.pwriteAll(fd, piece, at: from - dataStart, path: path) } catch { throw .sys(error, .extraction) }
            }
            let tail = max(lo, dataEnd)
            if tail < hi {
                let rest: ByteReader
                do { rest = try data.slice(tail - lo..<data.count) } catch { throw fail("chunk \(k): \(error)") }
                if !rest.isAllZero { throw fail("data after \(name) in chunk \(k): only one file is allowed in a chunked slot") }
            }
        }

        try place(0, decoders[0].output)
        pkg.file.adviseDone(base + chunks[0].offset..<base + chunks[0].offset + chunks[0].length)
        let crcs = Mutex([UInt32](repeating: 0, count: chunks.count))
        crcs.withLock { $0[0] = crc0 }
        let sink = ErrorSink()
        WorkerPool.parallelFor(jobs: chunks.count - 1, workers: workers) { job, w in
            if sink.failed { return }
            let k = job + 1, d = decoders[w]
            do throws(EngineError) {
                let crc = try decode(k, d)
                try place(k, d.output)
                crcs.withLock { $0[k] = crc }
                pkg.file.adviseDone(base + chunks[k].offset..<base + chunks[k].offset + chunks[k].length)
            } catch {
                sink.add(error)
            }
        }
        if let e = sink.first { throw e }
        let parts = crcs.withLock { $0 }.enumerated().map { (crc: $1, length: chunks[$0].decodedSize) }
        guard ChunkedGzip.combine(parts) == index.crc else { throw fail("gzip CRC-32 mismatch: the chunks are not the stream") }
        closed = true
        try writer.closeStreamingFile(file, bytes: entry.size)
    }
}
