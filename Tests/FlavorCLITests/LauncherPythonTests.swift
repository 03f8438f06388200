import Foundation
import Testing

/// A package whose runtime.python.interpreter is a script slot that reports how it was run.
private struct PyApp {
    let dir = TempDir("flavor-py")
    var cache: String { dir.sub("cache") }

    /// `interpreter` nil: no runtime.python at all.
    func pack(interpreter: String?, name: String = "pyapp") throws -> String {
        try dir.write("fakepy", """
            #!/bin/sh
            echo "argv0:$0"
            for a in "$@"; do echo "arg:[$a]"; done
            echo "GREETING=$GREETING"
            echo "MODE=$APP_MODE"
            echo "DROP=$DROP_ME"
            echo "WORKENV=$FLAVOR_WORKENV"
            exit ${PY_EXIT:-0}

            """, mode: 0o755)
        let python = interpreter.map { #", "python": {"version": "3.11.7", "interpreter": "\#($0)"}"# } ?? ""
        try dir.write("\(name).json", """
            {"package": {"name": "\(name)", "version": "1.0"},
             "execution": {"command": "/bin/echo app-ran", "env": {"GREETING": "hi"}},
             "runtime": {"env": {"set": {"APP_MODE": "py"}, "unset": ["DROP_ME"]}\(python)},
             "slots": [{"slot": 0, "id": "fakepy", "source": "\(dir.sub("fakepy"))", "target": "python/bin/python3.11",
                        "operations": "none", "permissions": "0755"}]}
            """)
        return try flavorPack(dir.sub("\(name).json"), dir.sub("\(name).psp"))
    }
}

@Suite("flavor-launcher python ARGS…")
struct LauncherPythonTests {
    @Test("runs the bundled interpreter with the args, the app's environment and its exit code", arguments: ["exec", "spawn"])
    func runsInterpreter(_ mode: String) throws {
        let app = PyApp()
        let pkg = try app.pack(interpreter: "{workenv}/python/bin/python3.11")
        let r = try run(pkg, ["python", "-c", "print('a b')", "", "two words"],
                        env: ["FLAVOR_LAUNCHER_CLI": "1", "FLAVOR_CACHE_DIR": app.cache, "FLAVOR_EXEC_MODE": mode,
                              "PY_EXIT": "42", "DROP_ME": "secret"])
        #expect(r.status == 42, "\(r.output)")
        let workenv = app.cache + "/workenv/pyapp"
        #expect(r.stdout == """
            argv0:\(workenv)/python/bin/python3.11
            arg:[-c]
            arg:[print('a b')]
            arg:[]
            arg:[two words]
            GREETING=hi
            MODE=py
            DROP=
            WORKENV=\(workenv)

            """)
        #expect(!r.stdout.contains("app-ran"), "the package's own command does not run")
        // Extracted as for a normal run: the next start is warm and sees the same tree.
        #expect(FileManager.default.fileExists(atPath: app.cache + "/workenv/.pyapp.pspf/instance/extract/complete"))
        let again = try run(pkg, ["python"], env: ["FLAVOR_LAUNCHER_CLI": "1", "FLAVOR_CACHE_DIR": app.cache, "FLAVOR_EXEC_MODE": mode])
        #expect(again.status == 0)
        #expect(again.stdout.hasPrefix("argv0:\(workenv)/python/bin/python3.11\nGREETING=hi\n"), "\(again.output)")
    }

    @Test("an interpreter outside the workenv (/bin/sh) gets the args as given")
    func systemInterpreter() throws {
        let app = PyApp()
        let pkg = try app.pack(interpreter: "/bin/sh")
        let r = try run(pkg, ["python", "-c", "echo \"$0|$1|$APP_MODE\"; exit 3", "zero", "one"],
                        env: ["FLAVOR_LAUNCHER_CLI": "1", "FLAVOR_CACHE_DIR": app.cache])
        #expect(r.status == 3)
        #expect(r.stdout == "zero|one|py\n")
    }

    @Test("a package without runtime.python is refused with one line and exit 105, extracting nothing")
    func noPython() throws {
        let app = PyApp()
        let pkg = try app.pack(interpreter: nil, name: "plain")
        let r = try run(pkg, ["python", "-V"], env: ["FLAVOR_LAUNCHER_CLI": "1", "FLAVOR_CACHE_DIR": app.cache])
        #expect(r.status == 105)
        #expect(r.stderr == "flavor-launcher: plain.psp bundles no Python (its metadata has no runtime.python.interpreter)\n")
        #expect(r.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: app.cache + "/workenv/plain"))
        // The package itself still runs.
        let ok = try run(pkg, [], env: ["FLAVOR_CACHE_DIR": app.cache])
        #expect(ok.status == 0 && ok.stdout == "app-ran\n", "\(ok.output)")
    }

    @Test("help lists the python command")
    func help() throws {
        let app = PyApp()
        let pkg = try app.pack(interpreter: nil, name: "helpme")
        let r = try run(pkg, ["help"], env: ["FLAVOR_LAUNCHER_CLI": "1"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("python [ARGS...]"))
    }
}
