import Foundation
import Testing
import FlavorTestSupport

/// The Embedded launcher's malloc (Sources/Embedded/CLauncherAlloc/alloc.c) replaces musl's in the
/// launcher; Tests/AllocStress/stress.c checks it the same way, statically linked with musl.
@Suite("the launcher's allocator")
struct LauncherAllocatorTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let muslSpecs = "/usr/lib/x86_64-linux-musl/musl-gcc.specs"

    @Test("four threads of malloc, calloc, realloc and posix_memalign over every size class keep every block intact")
    func stress() throws {
        try #require(FileManager.default.fileExists(atPath: Self.muslSpecs), "musl-dev is missing (scripts/install-deps installs it)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("alloc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let exe = dir + "/stress"
        let build = try runTool("/usr/bin/gcc", ["-specs=\(Self.muslSpecs)", "-static", "-O1", "-o", exe,
                                                 Self.repo + "/Tests/AllocStress/stress.c", Self.repo + "/Sources/Embedded/CLauncherAlloc/alloc.c"])
        try #require(build.status == 0, "gcc: \(build.output)")
        // musl's own allocator must not be in the binary: ours replaced it.
        let symbols = try runTool("/usr/bin/nm", [exe])
        #expect(!symbols.output.contains("__libc_malloc_impl"))
        let r = try runTool(exe, [])
        #expect(r.status == 0 && r.output == "ok\n", "\(r.output)")
    }
}
