import FlavorRing
import FlavorSys

/// How extracted files are written: plain syscalls on the worker threads, or each worker
/// batching write+close through its own io_uring (docs/PERFORMANCE.md compares them).
public enum WriteBackend: String, Sendable {
    case posix, uring

    /// Why io_uring is not used here (nil when it is usable); probed once per process.
    public static let uringUnavailableReason: String? = RingProbe.unavailableReason()

    /// FLAVOR_IO=posix|uring|auto, resolved once. `uring` falls back to posix (with a warning)
    /// when the probe fails; `auto` picks posix, measured faster on tmpfs with 2 cores
    /// (docs/PERFORMANCE.md), unless the probe succeeds and FLAVOR_IO_AUTO_PREFERS=uring
    /// (set by hosts where the benchmark shows io_uring ahead).
    public static let current: WriteBackend = resolve(Settings.current, warn: { Process.printError("flavor: warning: \($0)") })

    public static func resolve(_ s: Settings, warn: (String) -> Void) -> WriteBackend {
        switch s.io {
        case .posix: return .posix
        case .uring:
            if let why = uringUnavailableReason { warn("FLAVOR_IO=uring: \(why); using plain syscalls"); return .posix }
            return .uring
        case .auto:
            if uringUnavailableReason == nil, s.ioAutoPrefersUring { return .uring }
            return .posix
        }
    }
}
