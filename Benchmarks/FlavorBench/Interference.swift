import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How much CPU other processes used while a phase ran: the machine's busy time (/proc/stat) minus
/// what this harness and the commands it waited for used (getrusage SELF + CHILDREN). On a shared
/// 2-core machine this is the number that says whether a run was disturbed.
struct CPUMeter {
    private var machine0: Double
    private var ours0: Double
    private var wall0: Double

    init() {
        machine0 = CPUMeter.machineBusySeconds()
        ours0 = CPUMeter.ourSeconds()
        wall0 = monotonicSeconds()
    }

    /// Other processes' CPU as a fraction of one core over the elapsed time.
    func otherCoreShare() -> Double {
        let wall = monotonicSeconds() - wall0
        guard wall > 0 else { return 0 }
        let other = (CPUMeter.machineBusySeconds() - machine0) - (CPUMeter.ourSeconds() - ours0)
        return max(0, other) / wall
    }

    /// Busy CPU seconds of all cores since boot (user, nice, system, irq, softirq, steal).
    static func machineBusySeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
        let f = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard f.count >= 8 else { return 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / (ticks > 0 ? ticks : 100)
    }

    static func ourSeconds() -> Double {
        func secs(_ who: Int32) -> Double {
            var ru = rusage()
            getrusage(__rusage_who_t(who), &ru)
            return Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) * 1e-6
                + Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) * 1e-6
        }
        return secs(RUSAGE_SELF.rawValue) + secs(RUSAGE_CHILDREN.rawValue)
    }
}
