import Foundation
import Testing

/// How the launcher finds its own package file (Exec.selfPath): the path it was exec'd by when
/// that is absolute and names the file itself, else /proc/self/exe. Either way the same file, the
/// same workenv name (a symlink's target's) and an absolute FLAVOR_PACKAGE for the app.
@Suite("the launcher finds its own file")
struct LauncherSelfPathTests {
    static func manifest(_ dir: TempDir) throws -> String {
        try dir.write("src/where.sh", """
            #!/bin/sh
            echo "package=$FLAVOR_PACKAGE"
            echo "workenv=$FLAVOR_WORKENV"

            """, mode: 0o755)
        try dir.write("where-manifest.json", """
            {"package": {"name": "where", "version": "1.0.0"},
             "execution": {"command": "{workenv}/bin/where.sh"},
             "slots": [{"slot": 0, "id": "where", "source": "\(dir.sub("src/where.sh"))", "target": "bin/where.sh",
                        "operations": "none", "purpose": "payload", "lifecycle": "runtime", "permissions": "0755"}]}
            """)
        return dir.sub("where-manifest.json")
    }

    @Test("by absolute path, by relative path and through a symlink of another name: one file, one workenv")
    func samePackageEveryWay() throws {
        let dir = TempDir("flavor-self")
        let pkg = try flavorPack(try Self.manifest(dir), dir.sub("app.psp"))
        try FileManager.default.createDirectory(atPath: dir.sub("bin"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.sub("bin/tool"), withDestinationPath: pkg)
        let env = ["FLAVOR_CACHE_DIR": dir.sub("cache")]
        let workenv = dir.sub("cache") + "/workenv/app"
        let absolute = try run(pkg, [], env: env)
        #expect(absolute.status == 0 && absolute.stdout.contains("package=\(pkg)\n") && absolute.stdout.contains("workenv=\(workenv)\n"), "\(absolute.output)")
        let relative = try run("/bin/sh", ["-c", "./app.psp"], env: env, cwd: dir.path)
        #expect(relative.status == 0 && relative.stdout.contains("package=\(pkg)\n") && relative.stdout.contains("workenv=\(workenv)\n"), "\(relative.output)")
        let linked = try run(dir.sub("bin/tool"), [], env: env)
        #expect(linked.status == 0 && linked.stdout.contains("package=\(pkg)\n") && linked.stdout.contains("workenv=\(workenv)\n"), "\(linked.output)")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("cache") + "/workenv/tool"))
    }
}
