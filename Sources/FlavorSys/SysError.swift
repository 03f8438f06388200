#if canImport(Glibc)
import Glibc
#endif

/// A failed system or C-library call: what was attempted, on which path, and errno.
public struct SysError: Error, Sendable, Equatable, CustomStringConvertible {
    public var op: String
    public var path: String
    public var errno: Int32

    public init(op: String, path: String = "", errno: Int32) {
        self.op = op; self.path = path; self.errno = errno
    }

    public var reason: String { String(cString: strerror(errno)) }

    public var description: String {
        path.isEmpty ? "\(op): \(reason)" : "\(op) \(path): \(reason)"
    }
}

/// The one funnel for syscalls that return -1 and set errno: EINTR is retried, EBADF/EFAULT
/// are our bugs and trap, everything else is thrown with the operation and path.
@inline(__always)
func sys<T: FixedWidthInteger>(_ op: String, _ path: String = "", _ call: () -> T) throws(SysError) -> T {
    while true {
        let r = call()
        if r != -1 { return r }
        let e = Glibc.errno
        if e == EINTR { continue }
        precondition(e != EBADF && e != EFAULT, "\(op) \(path): errno \(e)")
        throw SysError(op: op, path: path, errno: e)
    }
}
