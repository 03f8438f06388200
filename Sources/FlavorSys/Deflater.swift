internal import CDeflate

// The compressing half of libdeflate, in a file of its own: the launcher never compresses, and the
// Embedded launcher's build leaves this file out so that libdeflate's compressor is not linked.
// Invariants as in Deflate.swift: one compressor per Deflater, one thread at a time, freed in deinit.

public final class Deflater {
    private let handle: OpaquePointer
    public let level: Int32

    public init(level: Int32) {
        precondition((0...12).contains(level), "gzip level must be 0...12")
        guard let h = libdeflate_alloc_compressor(level) else { fatalError("libdeflate_alloc_compressor: out of memory") }
        handle = h
        self.level = level
    }

    deinit { libdeflate_free_compressor(handle) }

    public func gzipBound(_ n: Int) -> Int { libdeflate_gzip_compress_bound(handle, n) }

    /// gzip of `input`. Compressed straight into the array's uninitialised capacity: no zero-fill
    /// and no copy, and the pages past the result are never touched, so they cost no memory.
    public func gzip(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        let bound = gzipBound(input.count)
        return [UInt8](unsafeUninitializedCapacity: bound) { out, count in
            count = gzip(input, into: UnsafeMutableRawBufferPointer(out))
            precondition(count > 0, "gzip bound was too small")
        }
    }

    /// gzip-compresses `input` into `output`; returns the byte count (0 only if `output` is too small).
    public func gzip(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        libdeflate_gzip_compress(handle, input.baseAddress, input.count, output.baseAddress, output.count)
    }

    public func gzip(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { gzip($0) }
    }

    /// gzip of `input[range]`.
    public func gzip(_ input: [UInt8], range: Range<Int>) -> [UInt8] {
        input.withUnsafeBytes { gzip(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }
}
