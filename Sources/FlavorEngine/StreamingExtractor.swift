import FlavorFormat
import FlavorSys

/// Extraction of gzip tar slots too large for one buffer: zlib inflates into a 1 MiB window,
/// tar headers are parsed from it and member data is written as it arrives, and the package
/// pages behind us are released. Memory stays ~2 MiB per worker whatever the slot size.
enum StreamingExtractor {
    static let chunk = 1 << 20

    static func extract(_ pkg: PackageReader, slot i: Int, stored: ByteReader, declaredSize: UInt64?,
                        into writer: TreeWriter, limit: Int, what: String) throws(EngineError) {
        let d = pkg.descriptors[i]
        let base = Int(d.offset)
        let gz: GzipStream
        do { gz = try GzipStream(stored) } catch { throw EngineError(.extraction, "\(what): \(error)") }
        var buf = [UInt8]()
        var start = 0
        var scratch = [UInt8](repeating: 0, count: chunk)
        var released = 0

        /// Appends the next inflated chunk; false at the end of the stream.
        func fill() throws(EngineError) -> Bool {
            if start > 0 && start >= buf.count / 2 { buf.removeSubrange(0..<start); start = 0 }
            let n: Int
            do { n = try scratch.withMutableBytes { (o) throws(CodecError) -> Int in try gz.read(into: o) } } catch {
                throw EngineError(.extraction, "\(what): \(error)")
            }
            if gz.produced > limit { throw EngineError(.extraction, "\(what): decoded data exceeds the limit of \(limit) bytes (FLAVOR_MAX_SLOT_BYTES)") }
            if gz.inputConsumed - released >= 8 << 20 {
                pkg.file.adviseDone(base + released..<base + gz.inputConsumed)
                released = gz.inputConsumed
            }
            buf.append(contentsOf: scratch[0..<n])
            return n > 0
        }

        outer: while true {
            // One header (with its extension headers) from the bytes we have, inflating more if needed.
            let entry: TarEntry
            let headerBytes: Int
            // An empty window reads as "end of archive" to TarReader: have two blocks first.
            while buf.count - start < 2 * Tar.blockSize, try fill() {}
            while true {
                let attempt: Result<(TarEntry?, Int), FormatError> = buf.withByteReader { all in
                    do throws(FormatError) {
                        var r = TarReader(try all.slice(start..<all.count), headersOnly: true)
                        let e = try r.next()
                        return .success((e, r.offset))
                    } catch { return .failure(error) }
                }
                switch attempt {
                case let .success((e, used)):
                    guard let e else { break outer }
                    entry = e; headerBytes = used
                case let .failure(err):
                    // Most likely the header is not all here yet; give up only at the end of input.
                    if buf.count - start < 64 << 20, try fill() { continue }
                    throw EngineError(.extraction, "\(what): \(err)")
                }
                break
            }
            start += headerBytes
            switch entry.kind {
            case .directory: if !TreeWriter.isRoot(entry.path) { try writer.makeDirectory(entry.path, mode: entry.mode == 0 ? 0o755 : entry.mode, what: what) }
            case .symlink: try writer.makeSymlink(entry.path, target: entry.linkTarget, what: what)
            case .hardlink: try writer.makeHardlink(entry.path, target: entry.linkTarget, what: what)
            case .file:
                let file = try writer.openStreamingFile(entry.path, mode: entry.mode == 0 ? 0o644 : entry.mode, what: what)
                var left = entry.size
                do throws(EngineError) {
                    while left > 0 {
                        if start == buf.count, !(try fill()) { throw EngineError(.extraction, "\(what): archive ends inside \(entry.path)") }
                        let n = min(left, buf.count - start)
                        let from = start
                        try buf.withByteReader { (all) throws(EngineError) in
                            let piece: ByteReader
                            do throws(FormatError) { piece = try all.slice(from..<from + n) } catch { throw EngineError(.extraction, "\(what): \(error)") }
                            do throws(SysError) { try FS.writeAll(file.fd, piece, path: file.path) } catch { throw EngineError.sys(error, .extraction) }
                        }
                        start += n; left -= n
                    }
                    try writer.closeStreamingFile(file, bytes: entry.size)
                } catch {
                    FS.close(file.fd)
                    throw error
                }
                var pad = Tar.padding(after: entry.size)
                while pad > 0 {
                    if start == buf.count, !(try fill()) { throw EngineError(.extraction, "\(what): archive ends inside padding") }
                    let n = min(pad, buf.count - start)
                    start += n; pad -= n
                }
            }
        }
        if let declared = declaredSize {
            // Whatever follows the end-of-archive marker still counts toward the declared size.
            repeat { start = buf.count } while try fill()
            guard UInt64(gz.produced) == declared else {
                throw EngineError(.extraction, "\(what): decoded \(gz.produced) bytes, descriptor declares \(declared)")
            }
        }
        pkg.file.adviseDone(base..<base + stored.count)
    }
}
