internal import CDeflate
import FlavorFormat

// Invariants: a Deflater/Inflater owns one libdeflate (de)compressor, used by one thread at a
// time (libdeflate.h: not thread-safe) and freed in deinit. Buffers are the caller's; libdeflate
// touches them only during a call. Output sizes are always explicit, so lying sizes and gzip
// bombs end as errors, never as unbounded allocation.

public enum CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    case corrupt(String)
    case sizeMismatch(expected: Int, actual: Int)
    case tooLarge(limit: Int)

    public var description: String {
        switch self {
        case let .corrupt(what): return "corrupt compressed data (\(what))"
        case let .sizeMismatch(e, a): return "decoded size \(a) differs from the declared \(e)"
        case let .tooLarge(limit): return "decoded data exceeds the limit of \(limit) bytes"
        }
    }
}

public final class Inflater {
    let handle: OpaquePointer

    public init() {
        guard let h = libdeflate_alloc_decompressor() else { fatalError("libdeflate_alloc_decompressor: out of memory") }
        handle = h
    }

    deinit { libdeflate_free_decompressor(handle) }

    /// The ISIZE field of the last gzip member (size mod 2^32), a hint only.
    public static func gzipSizeHint(_ input: UnsafeRawBufferPointer) -> Int? {
        guard input.count >= 18 else { return nil }
        return Int(UInt32(littleEndian: input.loadUnaligned(fromByteOffset: input.count - 4, as: UInt32.self)))
    }

    /// Decodes one or more concatenated gzip members into `output` exactly; returns the byte count.
    public func gunzip(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        var inOff = 0, outOff = 0
        repeat {
            var consumed = 0, produced = 0
            let r = libdeflate_gzip_decompress_ex(handle, input.baseAddress! + inOff, input.count - inOff,
                                                  output.baseAddress.map { $0 + outOff }, output.count - outOff,
                                                  &consumed, &produced)
            switch r {
            case LIBDEFLATE_SUCCESS: break
            case LIBDEFLATE_INSUFFICIENT_SPACE: throw .tooLarge(limit: output.count)
            default: throw .corrupt("gzip member at byte \(inOff)")
            }
            inOff += consumed; outOff += produced
        } while inOff < input.count && input.count - inOff >= 18
        guard inOff == input.count else { throw .corrupt("\(input.count - inOff) trailing bytes after gzip data") }
        return outOff
    }

    /// Gunzips data whose decoded size is not known in advance, capped at `limit` bytes.
    public func gunzip(_ input: UnsafeRawBufferPointer, limit: Int) throws(CodecError) -> [UInt8] {
        guard input.count >= 18 else { throw .corrupt("shorter than a gzip header and trailer") }
        var capacity = min(limit, max(Inflater.gzipSizeHint(input) ?? 0, 4096))
        while true {
            var out = [UInt8](repeating: 0, count: capacity)
            do throws(CodecError) {
                let n = try out.withMutableBytes { (o) throws(CodecError) -> Int in try gunzip(input, into: o) }
                out.removeSubrange(n...)
                return out
            } catch {
                // ISIZE is mod 2^32 and only covers the last member; grow geometrically up to the limit.
                guard case .tooLarge = error, capacity < limit else { throw error }
                capacity = min(limit, capacity * 4)
            }
        }
    }

    public func gunzip(_ input: [UInt8], limit: Int) throws(CodecError) -> [UInt8] {
        let r: Result<[UInt8], CodecError> = input.withUnsafeBytes { i in
            do throws(CodecError) { return .success(try gunzip(i, limit: limit)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// Raw DEFLATE (no gzip framing) into an exactly sized output.
    public func inflateRaw(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        var produced = 0
        let r = libdeflate_deflate_decompress(handle, input.baseAddress, input.count, output.baseAddress, output.count, &produced)
        switch r {
        case LIBDEFLATE_SUCCESS: return produced
        case LIBDEFLATE_INSUFFICIENT_SPACE: throw .tooLarge(limit: output.count)
        default: throw .corrupt("raw deflate")
        }
    }
}

extension Inflater {
    /// gunzip of a window with unknown decoded size, capped at `limit`.
    public func gunzip(_ input: ByteReader, limit: Int) throws(CodecError) -> [UInt8] {
        try input.withUnsafeBytes { (raw) throws(CodecError) -> [UInt8] in try gunzip(raw, limit: limit) }
    }

    /// gunzip of a window into exactly `size` bytes.
    public func gunzip(_ input: ByteReader, exactSize size: Int) throws(CodecError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        let n = try input.withUnsafeBytes { (raw) throws(CodecError) -> Int in
            try out.withMutableBytes { (o) throws(CodecError) -> Int in try gunzip(raw, into: o) }
        }
        guard n == size else { throw .sizeMismatch(expected: size, actual: n) }
        return out
    }
}

extension Zstd {
    /// zstd of a window into exactly `size` bytes (or the frame's own size when nil, capped).
    public static func frameContentSize(_ input: ByteReader) -> Int? {
        input.withUnsafeBytes { frameContentSize($0) }
    }

    public static func decompress(_ input: ByteReader, size: Int?, limit: Int) throws(CodecError) -> [UInt8] {
        try input.withUnsafeBytes { (raw) throws(CodecError) -> [UInt8] in
            guard let n = size ?? frameContentSize(raw), n <= limit else { throw .tooLarge(limit: limit) }
            var out = [UInt8](repeating: 0, count: n)
            let got = try out.withMutableBytes { (o) throws(CodecError) -> Int in try decompress(raw, into: o) }
            guard got == n else { throw .sizeMismatch(expected: n, actual: got) }
            return out
        }
    }
}

extension Inflater {
    /// ISIZE of the last gzip member (decoded size mod 2^32), a hint only.
    public static func gzipSizeHint(_ input: ByteReader) -> Int? {
        input.withUnsafeBytes { gzipSizeHint($0) }
    }
}
