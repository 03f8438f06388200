#if canImport(Glibc)
import Glibc
#endif
import FlavorFormat

/// A whole file mapped read-only.
///
/// Invariants: the mapping is PROT_READ and MAP_PRIVATE, created once in init and unmapped only
/// in deinit, so any ByteReader handed out stays valid while this object is alive. Any thread may
/// read it; nobody writes it. An empty file is represented without a mapping.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws(SysError) {
        self.path = path
        let fd = try FS.open(path, O_RDONLY)
        defer { FS.close(fd) }
        let size = try FS.fileSize(fd, path: path)
        self.size = size
        if size == 0 { base = nil; return }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw SysError(op: "mmap", path: path, errno: Glibc.errno) }
        base = p
    }

    deinit {
        if let base { munmap(base, size) }
    }

    /// The whole file as a bounds-checked window; valid while `self` is alive.
    public var bytes: ByteReader {
        ByteReader(unsafeBorrowing: UnsafeRawBufferPointer(start: base, count: size))
    }

    /// Hint that `range` will be read front to back (slot hashing and inflating).
    public func adviseSequential(_ range: Range<Int>) { advise(range, MADV_SEQUENTIAL) }

    /// Hint that `range` was consumed and its pages may be dropped from our RSS.
    public func adviseDone(_ range: Range<Int>) { advise(range, MADV_DONTNEED) }

    public func adviseWillNeed(_ range: Range<Int>) { advise(range, MADV_WILLNEED) }

    private func advise(_ range: Range<Int>, _ advice: Int32) {
        guard let base, !range.isEmpty else { return }
        // madvise wants page-aligned starts; round the start down, clamp the end.
        let page = 4096
        let start = range.lowerBound & ~(page - 1)
        let end = min(range.upperBound, size)
        guard end > start else { return }
        _ = madvise(base + start, end - start, advice)
    }
}
