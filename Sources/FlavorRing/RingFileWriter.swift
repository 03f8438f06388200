internal import CURing
import FlavorFormat

// Invariants: one RingFileWriter belongs to one thread (SINGLE_ISSUER). Buffers handed to
// `write` are the caller's and must stay valid and unchanged until `flush()` returns; the ring
// closes every fd it is given, on success and on failure. deinit flushes and tears down.

/// A failed write or close of the file queued with `tag`.
public struct RingFailure: Error, Sendable {
    public var tag: Int
    public var errno: Int32
    public var reason: String { String(cString: CURing_strerror(errno)) }
}

/// Batches `write(fd, whole buffer) -> close(fd)` pairs through io_uring, `window` files in flight.
public final class RingFileWriter {
    private let state: UnsafeMutablePointer<CURing_writer>

    /// nil when a ring cannot be set up (then use plain syscalls).
    public init?(window: Int = 64) {
        state = .allocate(capacity: 1)
        if CURing_writer_init(state, UInt32(window)) < 0 {
            state.deallocate()
            return nil
        }
    }

    deinit {
        CURing_writer_exit(state)
        state.deallocate()
    }

    /// Queues the whole buffer for `fd` and the close after it. Returns the first failure seen so far.
    public func write(fd: Int32, bytes: UnsafeRawBufferPointer, tag: Int) -> RingFailure? {
        let r = CURing_writer_write(state, fd, bytes.baseAddress, bytes.count, tag)
        return r < 0 ? RingFailure(tag: Int(state.pointee.fail_tag), errno: -r) : nil
    }

    /// Queues a window (e.g. tar member data inside a decoded shard); it must outlive `flush()`.
    public func write(fd: Int32, data: ByteReader, tag: Int) -> RingFailure? {
        data.withUnsafeBytes { write(fd: fd, bytes: $0, tag: tag) }
    }

    /// Waits until every queued file is written and closed.
    public func flush() -> RingFailure? {
        let r = CURing_writer_flush(state)
        return r < 0 ? RingFailure(tag: Int(state.pointee.fail_tag), errno: -r) : nil
    }
}
