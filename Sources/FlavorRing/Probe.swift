internal import CURing

// Invariants: the probe ring lives only inside CURing_probe; nothing escapes. Raw errno codes go up.

public enum RingProbe {
    /// nil when io_uring can be used here; otherwise why not. Docker's default seccomp profile
    /// gives EPERM, old kernels ENOSYS, the sysctl EPERM for everyone.
    public static func unavailableReason() -> String? {
        let disabled = CURing_sysctl_disabled()
        if disabled != 0 { return "io_uring disabled by /proc/sys/kernel/io_uring_disabled=\(disabled)" }
        let r = CURing_probe()
        if r < 0 { return "io_uring_setup failed: \(String(cString: CURing_strerror(-r)))" }
        return nil
    }
}
