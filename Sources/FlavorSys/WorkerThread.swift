#if canImport(Glibc)
import Glibc
#endif

// Thread entry point: a top-level function in its own file, never a closure from main.swift
// (those are MainActor-isolated and trap on a worker thread; STYLE.md). It returns; it never
// calls pthread_exit.
func poolThreadMain(_ ctx: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let ctx else { return nil }
    let c = Unmanaged<PoolThreadContext>.fromOpaque(ctx).takeRetainedValue()
    c.job.drain(worker: c.worker)
    return nil
}
