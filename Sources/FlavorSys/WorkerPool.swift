#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// Invariants: `parallelFor` owns its threads: it creates them, hands each a retained box holding
// the job closure and a shared counter, and joins them all before returning, so nothing it
// created outlives the call. The closure is @Sendable; per-thread state (inflaters, hashers,
// file writers) is created inside it by the thread that uses it.

public enum WorkerPool {
    /// Online cores, at least 1.
    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Runs `body(job, worker)` for every job in 0..<jobs on up to `workers` threads (the
    /// calling thread is one of them). Jobs are taken in order from a shared counter, so put
    /// the biggest jobs first for balance.
    public static func parallelFor(jobs: Int, workers: Int, _ body: @escaping @Sendable (_ job: Int, _ worker: Int) -> Void) {
        guard jobs > 0 else { return }
        let n = max(1, min(workers, jobs))
        let shared = PoolJob(jobs: jobs, body: body)
        if n == 1 { shared.drain(worker: 0); return }
        var threads = [pthread_t]()
        for w in 1..<n {
            let ctx = Unmanaged.passRetained(PoolThreadContext(job: shared, worker: w)).toOpaque()
            if let t = startThread(ctx) {
                threads.append(t)
            } else {
                Unmanaged<PoolThreadContext>.fromOpaque(ctx).release()
            }
        }
        shared.drain(worker: 0)
        for t in threads { pthread_join(t, nil) }
    }

    static func startThread(_ ctx: UnsafeMutableRawPointer) -> pthread_t? {
#if FLAVOR_MUSL
        // musl's pthread_t is a pointer, and its default stack is 128 KiB: give workers glibc-like room.
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, 1 << 20)
        var t: pthread_t? = nil
        return pthread_create(&t, &attr, poolThreadMain, ctx) == 0 ? t : nil
#else
        var t = pthread_t()
        return pthread_create(&t, nil, poolThreadMain, ctx) == 0 ? t : nil
#endif
    }
}

final class PoolJob: Sendable {
    let jobs: Int
    let next = Atomic<Int>(0)
    let body: @Sendable (Int, Int) -> Void

    init(jobs: Int, body: @escaping @Sendable (Int, Int) -> Void) {
        self.jobs = jobs; self.body = body
    }

    func drain(worker: Int) {
        while true {
            let j = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if j >= jobs { return }
            body(j, worker)
        }
    }
}

final class PoolThreadContext: Sendable {
    let job: PoolJob
    let worker: Int
    init(job: PoolJob, worker: Int) { self.job = job; self.worker = worker }
}
