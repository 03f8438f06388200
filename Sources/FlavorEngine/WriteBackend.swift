import FlavorRing
import FlavorSys

/// How extracted files are written: plain syscalls on the worker threads, or each worker
/// batching write+close through its own io_uring (docs/PERFORMANCE.md compares them).
public enum WriteBackend: String, Sendable {
    case posix, uring

    /// Why io_uring is not used here (nil when it is usable); probed once per process.
    public static let uringUnavailableReason: String? = RingProbe.unavailableReason()


    /// Written by `flavor bench --calibrate-io` after timing both backends on this host's cache
    /// file system; read only when a cold start needs a backend.
    public static func preferenceFile(_ s: Settings) -> String { s.cacheRoot + "/io-backend" }

    static func hostPrefersUring(_ s: Settings) -> Bool {
        guard let b = try? FS.readFile(preferenceFile(s), limit: 64) else { return false }
        return String(decoding: b, as: UTF8.self).hasPrefix("uring")
    }

    /// FLAVOR_IO=posix|uring|auto (`Settings.io`), resolved where an extraction starts. `uring`
    /// falls back to posix (with a warning) when the probe fails; `auto` takes io_uring only when
    /// the probe succeeds and this host's calibration (`flavor bench --calibrate-io`, or
    /// FLAVOR_IO_AUTO_PREFERS=uring) found it faster; otherwise plain syscalls, which measured as
    /// fast or faster here (docs/PERFORMANCE.md).
    public static func resolve(_ s: Settings, warn: (String) -> Void = { Process.printError("flavor: warning: \($0)") }) -> WriteBackend {
        switch s.io {
        case .posix: return .posix
        case .uring:
            if let why = uringUnavailableReason { warn("FLAVOR_IO=uring: \(why); using plain syscalls"); return .posix }
            return .uring
        case .auto:
            // The preference first: probing sets up and tears down a ring (~0.08 ms of a cold start).
            guard s.ioAutoPrefersUring || hostPrefersUring(s) else { return .posix }
            return uringUnavailableReason == nil ? .uring : .posix
        }
    }
}
