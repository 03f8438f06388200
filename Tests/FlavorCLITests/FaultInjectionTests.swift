import Foundation
import Testing

/// An LD_PRELOAD library that makes one of fsync, fchmod or close fail with EIO for descriptors
/// whose path contains FAULT_PATH (close really closes first, as a failing NFS close does).
/// This is how a delayed write error looks to a program; the results must not be ignored.
enum FaultShim {
    static let source = """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <errno.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/stat.h>
        #include <unistd.h>

        static int hit(int fd, const char *op) {
            const char *want = getenv("FAULT_OP"), *pattern = getenv("FAULT_PATH");
            if (!want || !pattern || strcmp(want, op) != 0) return 0;
            char link[64], path[4096];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, path, sizeof path - 1);
            if (n <= 0) return 0;
            path[n] = 0;
            return strstr(path, pattern) != NULL;
        }
        int fsync(int fd) {
            if (hit(fd, "fsync")) { errno = EIO; return -1; }
            return ((int (*)(int))dlsym(RTLD_NEXT, "fsync"))(fd);
        }
        int fchmod(int fd, mode_t mode) {
            if (hit(fd, "fchmod")) { errno = EIO; return -1; }
            return ((int (*)(int, mode_t))dlsym(RTLD_NEXT, "fchmod"))(fd, mode);
        }
        int close(int fd) {
            int fail = hit(fd, "close");
            int r = ((int (*)(int))dlsym(RTLD_NEXT, "close"))(fd);
            if (fail) { errno = EIO; return -1; }
            return r;
        }
        """

    static let library: Result<String, Error> = Result {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("fault-shim-\(getpid())").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try source.write(toFile: d + "/fault.c", atomically: true, encoding: .utf8)
        let r = try run("/usr/bin/cc", ["-shared", "-fPIC", "-O", "-o", d + "/fault.so", d + "/fault.c", "-ldl"])
        guard r.status == 0 else { throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: r.output]) }
        return d + "/fault.so"
    }

    /// A wrapper that runs a program with one syscall failing with `errno` (seccomp), for static
    /// executables too, where no preload reaches.
    static func refusing(_ call: String, errno: String = "EIO") throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("fault-shim-\(getpid())").path
        let exe = d + "/refuse-\(call)-\(errno)"
        if FileManager.default.isExecutableFile(atPath: exe) { return exe }
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try """
            #include <errno.h>
            #include <linux/filter.h>
            #include <linux/seccomp.h>
            #include <stddef.h>
            #include <sys/prctl.h>
            #include <sys/syscall.h>
            #include <unistd.h>
            int main(int argc, char **argv) {
                struct sock_filter f[] = {
                    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_\(call), 0, 1),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (\(errno) & SECCOMP_RET_DATA)),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                };
                struct sock_fprog prog = { sizeof f / sizeof f[0], f };
                if (argc < 2 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) return 126;
                execv(argv[1], argv + 1);
                return 127;
            }
            """.write(toFile: exe + ".c", atomically: true, encoding: .utf8)
        let tmp = exe + ".tmp-\(UInt64.random(in: 0...UInt64.max))"   // two tests may build it at once
        let r = try run("/usr/bin/cc", ["-O", "-o", tmp, exe + ".c"])
        guard r.status == 0 else { throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: r.output]) }
        guard rename(tmp, exe) == 0 else { throw POSIXError(.EIO) }
        return exe
    }

    static func env(_ op: String, _ path: String) throws -> [String: String] {
        ["LD_PRELOAD": try library.get(), "FAULT_OP": op, "FAULT_PATH": path]
    }
}

@Suite("fsync, fchmod and close results are checked")
struct FaultInjectionTests {
    @Test("a pack whose fsync, fchmod or close fails exits 1 naming the file, and the previous package stays as it was",
          arguments: ["fsync", "fchmod", "close"])
    func packOutput(_ op: String) throws {
        let app = try DemoApp()
        let out = app.dir.sub("dist/demo.psp")
        try FileManager.default.createDirectory(atPath: app.dir.sub("dist"), withIntermediateDirectories: true)
        try app.dir.write("dist/demo.psp", "the previous build\n")
        let r = try run(Tools.flavor, ["pack", "--manifest", try app.manifest(), "--output", out, "--launcher-bin", Tools.launcher,
                                       "--key-seed", "s", "--quiet"], env: try FaultShim.env(op, "demo.psp.tmp-"))
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains("writing \(out)") && r.stderr.contains(op) && r.stderr.contains("Input/output error"), "\(r.stderr)")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "the previous build\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: app.dir.sub("dist")) == ["demo.psp"])
        // The shim is what failed it: the same pack without it succeeds.
        _ = try flavorPack(try app.manifest(), out)
    }

    /// The launcher is a static executable (no preload reaches it), so seccomp fails its fchmod
    /// calls instead: the first ones are those of the files that publish the workenv.
    @Test("a launch whose fchmod fails runs nothing and leaves no trusted workenv; the next launch runs")
    func launch() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let cache = app.dir.sub("cache"), marker = app.dir.sub("ran")
        let env = ["FLAVOR_CACHE_DIR": cache, "MARKER": marker]
        let r = try run(try FaultShim.refusing("fchmod"), [pkg, "x"], env: env)
        #expect(r.status != 0, "\(r.output)")
        #expect(r.stderr.contains("fchmod") && r.stderr.contains("Input/output error") && r.stderr.contains(cache), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(!FileManager.default.fileExists(atPath: cache + "/workenv/.demo.pspf/instance/extract/complete"))
        let again = try run(pkg, ["after"], env: env)
        #expect(again.status == 0 && again.stdout.contains("args:after"), "\(again.output)")
        #expect(again.stdout.contains("file:./data/nested/b.txt 2500"))
    }

    @Test("extract-all whose close of an extracted file fails exits 1 and leaves no output directory")
    func extractAll() throws {
        let app = try DemoApp()
        let pkg = try flavorPack(try app.manifest(), app.dir.sub("demo.psp"))
        let out = app.dir.sub("out")
        let r = try run(Tools.flavor, ["extract-all", pkg, out], env: ["FLAVOR_IO": "posix"].merging(try FaultShim.env("close", "/data/run.sh")) { $1 })
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains("close") && r.stderr.contains("run.sh"), "\(r.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: app.dir.path).filter { $0.hasPrefix("out") }
        #expect(left.isEmpty, "\(left)")
    }
}
