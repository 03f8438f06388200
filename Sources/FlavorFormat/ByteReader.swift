/// A bounds-checked, read-only window over bytes owned by someone else (a mapping or an array).
///
/// Invariants: the owner keeps the memory alive and unmodified for as long as any ByteReader
/// derived from it is used (FlavorSys.MappedFile unmaps only in deinit). This file is the one
/// place outside the FFI layer that touches raw pointers; every access is checked against `count`.
public struct ByteReader: @unchecked Sendable {
    @usableFromInline let base: UnsafeRawBufferPointer
    /// Absolute offset of `base` in the original file, for error messages.
    public let origin: Int

    public init(unsafeBorrowing base: UnsafeRawBufferPointer, origin: Int = 0) {
        self.base = base
        self.origin = origin
    }

    @inlinable public var count: Int { base.count }

    @inlinable public subscript(i: Int) -> UInt8 { base[i] }

    public func u8(at off: Int) throws(FormatError) -> UInt8 {
        try check(off, 1, "u8"); return base[off]
    }

    public func u16(at off: Int) throws(FormatError) -> UInt16 {
        try check(off, 2, "u16")
        return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: off, as: UInt16.self))
    }

    public func u32(at off: Int) throws(FormatError) -> UInt32 {
        try check(off, 4, "u32")
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: off, as: UInt32.self))
    }

    public func u64(at off: Int) throws(FormatError) -> UInt64 {
        try check(off, 8, "u64")
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: off, as: UInt64.self))
    }

    /// True when the 8 bytes at `off` are all zero (checksums skip zero runs); they must be in the window.
    @inlinable public func isZeroWord(at off: Int) -> Bool {
        precondition(off >= 0 && off <= count - 8, "isZeroWord out of range")
        return base.loadUnaligned(fromByteOffset: off, as: UInt64.self) == 0
    }

    /// A sub-window without copying.
    public func slice(_ range: Range<Int>, region: String = "slice") throws(FormatError) -> ByteReader {
        try check(range.lowerBound, range.count, region)
        return ByteReader(unsafeBorrowing: UnsafeRawBufferPointer(rebasing: base[range]),
                          origin: origin + range.lowerBound)
    }

    /// A copy of `range`.
    public func copyBytes(_ range: Range<Int>) throws(FormatError) -> [UInt8] {
        try check(range.lowerBound, range.count, "bytes")
        return Array(base[range])
    }

    public func toArray() -> [UInt8] { Array(base) }

    /// True when every byte is zero (tar padding and end-of-archive blocks).
    public var isAllZero: Bool { base.allSatisfy { $0 == 0 } }

    /// True when the bytes at `off` equal `pattern`.
    public func matches(_ pattern: [UInt8], at off: Int) -> Bool {
        guard off >= 0, pattern.count <= count, off <= count - pattern.count else { return false }
        for (i, b) in pattern.enumerated() where base[off + i] != b { return false }
        return true
    }

    /// For FFI consumers (hashing, inflating) that need a pointer; it must not escape `body`.
    @inlinable public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(base)
    }

    @inline(__always)
    func check(_ off: Int, _ n: Int, _ region: String) throws(FormatError) {
        // off >= 0, n >= 0 and off <= count - n cannot overflow since count >= 0.
        guard off >= 0, n >= 0, n <= count, off <= count - n else {
            throw .truncated(region: region, offset: origin + off, need: n, have: max(0, count - max(off, 0)))
        }
    }
}

extension Array where Element == UInt8 {
    /// Borrows the array's storage as a ByteReader for the duration of `body`.
    @inlinable public func withByteReader<R, E: Error>(_ body: (ByteReader) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = self.withUnsafeBytes { raw in
            do throws(E) { return .success(try body(ByteReader(unsafeBorrowing: raw))) } catch { return .failure(error) }
        }
        return try result.get()
    }

    @inlinable public mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        var x = v.littleEndian
        Swift.withUnsafeBytes(of: &x) { self.append(contentsOf: $0) }
    }

    @inlinable public mutating func putLE<T: FixedWidthInteger>(_ v: T, at off: Int) {
        var x = v.littleEndian
        Swift.withUnsafeBytes(of: &x) { raw in
            for i in 0..<raw.count { self[off + i] = raw[i] }
        }
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps a typed error (the stdlib's rethrows erases it).
    @inlinable public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let r: Result<R, E> = withUnsafeBytes { raw in
            do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// `withUnsafeMutableBytes` that keeps a typed error.
    @inlinable public mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let r: Result<R, E> = withUnsafeMutableBytes { raw in
            do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try r.get()
    }
}

extension Array where Element == UInt8 {
    /// Appends a copy of the window's bytes.
    public mutating func append(_ r: ByteReader) {
        r.withUnsafeBytes { self.append(contentsOf: $0) }
    }
}
