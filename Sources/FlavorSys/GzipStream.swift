internal import CZlib
import FlavorFormat

// Invariants: a GzipStream reads one ByteReader window (a slot inside the package mapping) that
// its owner keeps alive; zlib's state is heap-allocated once and freed in deinit; one thread
// uses it. Output goes into caller buffers, so memory stays bounded whatever the slot size.

/// Streaming gunzip (concatenated members allowed) for slots too large to decode in one buffer.
public final class GzipStream {
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: ByteReader
    private var consumed = 0
    private var finished = false
    public private(set) var produced = 0

    public init(_ input: ByteReader) throws(CodecError) {
        self.input = input
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 16 + 15: gzip wrapper, 32 KiB window.
        guard CZlib_inflateInit2(stream, 16 + 15) == Z_OK else {
            stream.deallocate()
            throw .corrupt("zlib inflateInit2 failed")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Input bytes consumed so far (for releasing mapped pages behind us).
    public var inputConsumed: Int { consumed }

    /// Fills up to `out.count` bytes; returns 0 only at the end of the data.
    public func read(into out: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        guard !finished, out.count > 0 else { return 0 }
        var written = 0
        while written < out.count {
            if consumed == input.count { finished = true; break }
            let r: Int32 = input.withUnsafeBytes { raw in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + consumed)
                stream.pointee.avail_in = UInt32(min(raw.count - consumed, Int(UInt32.max)))
                stream.pointee.next_out = (out.baseAddress! + written).assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(out.count - written)
                let before = (stream.pointee.avail_in, stream.pointee.avail_out)
                let r = inflate(stream, Z_NO_FLUSH)
                consumed += Int(before.0 - stream.pointee.avail_in)
                written += Int(before.1 - stream.pointee.avail_out)
                return r
            }
            switch r {
            case Z_OK:
                break
            case Z_BUF_ERROR:
                throw .corrupt(consumed == input.count ? "gzip data ends early" : "gzip stream cannot make progress")
            case Z_STREAM_END:
                // Another member may follow (pigz, concatenated gzip files).
                if input.count - consumed >= 18 { inflateReset(stream) } else { consumed = input.count }
            default:
                throw .corrupt("gzip: \(stream.pointee.msg.map { String(cString: $0) } ?? "error \(r)")")
            }
        }
        produced += written
        return written
    }
}

extension GzipStream {
    /// Whole gunzip of a small window through zlib, capped at `limit`. The launcher decodes its
    /// metadata this way: libdeflate's first call probes CPU features with CPUID, which traps to the
    /// hypervisor on a VM (~20 us per launch here); a warm launch decodes nothing else.
    public static func gunzip(_ input: ByteReader, limit: Int) throws(CodecError) -> [UInt8] {
        guard input.count >= 18 else { throw .corrupt("shorter than a gzip header and trailer") }
        let stream = try GzipStream(input)
        var out = [UInt8](repeating: 0, count: min(limit, max(Inflater.gzipSizeHint(input) ?? 0, 4096)))
        var length = 0
        while true {
            if length == out.count {
                // Full: usually the trailer's size was right and the stream is done. Ask for one more
                // byte before growing, so an exact hint costs no growth (a 4x zero-filled copy was a
                // third of a warm start's instructions for a 16-slot package).
                var probe: UInt8 = 0
                let more = try withUnsafeMutableBytes(of: &probe) { (b) throws(CodecError) -> Int in try stream.read(into: b) }
                if more == 0 { break }
                guard out.count < limit else { throw .tooLarge(limit: limit) }
                out.append(contentsOf: repeatElement(0, count: min(limit, max(out.count * 4, out.count + 1)) - out.count))
                out[length] = probe
                length += 1
                continue
            }
            let got = try out.withMutableBytes { (o) throws(CodecError) -> Int in
                try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: o[length...]))
            }
            if got == 0 { break }
            length += got
        }
        out.removeSubrange(length...)
        return out
    }
}
