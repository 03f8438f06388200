import Testing
import FlavorBuild
@testable import FlavorPython

@Suite("pyproject.toml: [project] and [tool.flavor]")
struct PyProjectTests {
    static let file = "/p/pyproject.toml"

    func parse(_ text: String) throws -> PyProject { try PyProject.parse(text, file: Self.file) }

    func error(_ text: String) -> String {
        do { _ = try parse(text); return "" } catch let e as BuildError { return e.message } catch { return "\(error)" }
    }

    @Test("a full file: project keys, scripts in order, every tool.flavor key")
    func full() throws {
        let p = try parse("""
            [project]
            name = "demo-app"
            version = "2.0"
            description = "d"
            dependencies = ["click>=8", "rich"]
            [project.scripts]
            zeta = "demo.z:main"
            alpha = "demo.a:main"
            [tool.flavor]
            entry_point = "alpha"
            python = "/opt/py/bin/python3"
            extras = ["fast"]
            exclude = ["*.pyi", "tests"]
            strip = false
            keep_stdlib_extras = true
            stdlib_sources = true
            slots = [{ id = "data", source = "data", target = "share/data", operations = "tgz" }]
            [tool.flavor.metadata]
            package_name = "demo"
            [tool.flavor.execution.env]
            DEMO = "1"
            [tool.flavor.execution.runtime.env]
            unset = ["SECRET_*"]
            pass = ["LANG"]
            set = { MODE = "prod" }
            map = { OLD = "NEW" }
            isolated = false
            """)
        #expect(p.name == "demo-app" && p.version == "2.0" && p.description == "d")
        #expect(p.directory == "/p")
        #expect(p.dependencies == ["click>=8", "rich"])
        #expect(p.scripts.map(\.name) == ["zeta", "alpha"])
        #expect(p.entryPoint == "alpha" && p.packageName == "demo" && p.python == "/opt/py/bin/python3")
        #expect(p.extras == ["fast"] && p.exclude == ["*.pyi", "tests"] && !p.strip && p.keepStdlibExtras && p.stdlibSources)
        #expect(p.extraSlots.count == 1 && p.extraSlots[0]["target"]?.stringValue == "share/data")
        #expect(p.env.map { "\($0.0)=\($0.1)" } == ["DEMO=1"])
        #expect(p.runtimeEnv.unset == ["SECRET_*"] && p.runtimeEnv.pass == ["LANG"] && !p.runtimeEnv.isolated)
        #expect(p.runtimeEnv.set.map { "\($0.0)=\($0.1)" } == ["MODE=prod"])
        #expect(p.runtimeEnv.map.map { "\($0.0)=\($0.1)" } == ["OLD=NEW"])
    }

    @Test("defaults: isolated, stripped, no extras")
    func defaults() throws {
        let p = try parse("[project]\nname = \"x\"\nversion = \"1\"\n")
        #expect(p.runtimeEnv.isolated && p.strip && !p.keepStdlibExtras && !p.stdlibSources && p.entryPoint == nil && p.scripts.isEmpty)
    }

    @Test("errors name the file and the key", arguments: [
        ("name = \"x\"\n", "no [project] table"),
        ("[project]\nversion = \"1\"\n", "[project] has no name"),
        ("[project]\nname = \"x\"\n", "[project] has no version"),
        ("[project]\nname = 3\nversion = \"1\"\n", "project.name must be a string"),
        ("[project]\nname = \"x\"\nversion = \"1\"\ndependencies = \"click\"\n", "project.dependencies must be an array of strings"),
        ("[project]\nname = \"x\"\nversion = \"1\"\n[tool.flavor]\nentrypoint = \"a:b\"\n", "unknown key tool.flavor.entrypoint"),
        ("[project]\nname = \"x\"\nversion = \"1\"\n[tool.flavor]\nentry_point = 3\n", "tool.flavor.entry_point must be a string"),
        ("[project]\nname = \"x\"\nversion = \"1\"\n[tool.flavor]\nextras = [1]\n", "tool.flavor.extras must be an array of strings"),
        ("[project]\nname = \"x\"\nversion = \"1\"\n[tool.flavor]\nstrip = \"no\"\n", "tool.flavor.strip must be a boolean"),
        ("[project]\nname = \"x\"\nversion = \"1\"\n[tool.flavor]\nstdlib_sources = \"yes\"\n", "tool.flavor.stdlib_sources must be a boolean"),
        ("[project]\nname = \"x\"\nversion = \"1\"\n[tool.flavor.execution.runtime.env]\nunset = \"A\"\n", "tool.flavor.execution.runtime.env.unset must be an array of strings"),
        ("[project]\nname = \"x\"\nversion = \"1\"\n[tool.flavor.execution.runtime.env]\nisolated = 1\n", "tool.flavor.execution.runtime.env.isolated must be a boolean"),
        ("[project]\nname = \"x\"\nversion = \"1\"\n[tool.flavor.execution.runtime]\nenvs = {}\n", "unknown key tool.flavor.execution.runtime.envs"),
        ("[project]\nname = \"x\"\nversion = \"1\"\n[tool.flavor.execution]\nenv = { A = 1 }\n", "tool.flavor.execution.env.A must be a string"),
        ("[project\nname = \"x\"\n", "invalid TOML at line 1"),
    ])
    func errors(_ text: String, _ expected: String) {
        let message = error(text)
        #expect(message.hasPrefix(Self.file + ": "), "\(message)")
        #expect(message.contains(expected), "\(message)")
    }

    @Test("a missing file says where it looked and what to do")
    func missing() {
        do { _ = try PyProject.load("/nonexistent/pyproject.toml"); Issue.record("no error") } catch {
            #expect(error.message.contains("/nonexistent/pyproject.toml: no pyproject.toml here"))
        }
    }

    @Test("project names normalise as pip names dist-info directories")
    func normalize() {
        #expect(PythonBuild.normalize("Demo-App.x__y") == "demo_app_x_y")
    }

    @Test("exclude globs match a path or any one of its components")
    func globs() {
        #expect(Tree.matches("*.pyi", "pkg/sub/mod.pyi"))
        #expect(Tree.matches("tests", "pkg/tests/test_a.py"))
        #expect(!Tree.matches("tests", "pkg/testsuite.py"))
        #expect(Tree.matches("pkg/data", "pkg/data/a.bin"))
        #expect(!Tree.matches("pkg/data", "other/pkg/data.txt"))
    }

    @Test("relative paths between workenv directories, as RUNPATH $ORIGIN entries use them")
    func relative() {
        #expect(Tree.relative(from: "python/lib/python3.11/lib-dynload", to: "python/lib") == "../..")
        #expect(Tree.relative(from: "python/bin", to: "python/lib") == "../lib")
        #expect(Tree.relative(from: "python/lib", to: "python/lib") == ".")
    }
}

@Suite("Progressive: which unit a file belongs to")
struct ProgressiveKeyTests {
    @Test("paths map to the top-level module they belong to", arguments: [
        ("sympy/core/basic.py", "sympy"), ("six.py", "six"), ("__pycache__/six.cpython-311.pyc", "six"),
        ("numpy.libs/libopenblas.so", "numpy.libs"), ("_cffi_backend.cpython-311-x86_64-linux-gnu.so", "_cffi_backend"),
        ("README.txt", "README.txt"), ("os.pyc", "os"),
    ])
    func topLevel(_ rel: String, _ expected: String) {
        #expect(Progressive.key(rel) == expected)
    }

    @Test("a split package maps its submodules on their own, its own files to itself", arguments: [
        ("encodings/cp1252.pyc", "encodings.cp1252"), ("encodings/__init__.pyc", "encodings"), ("encodings/aliases.pyc", "encodings.aliases"),
        ("importlib/metadata/__init__.pyc", "importlib.metadata"), ("importlib/util.pyc", "importlib.util"), ("json/decoder.pyc", "json"),
    ])
    func split(_ rel: String, _ expected: String) {
        #expect(Progressive.key(rel, splitting: Progressive.splitPackages) == expected)
    }

    @Test("startup and progressive are checked like every [tool.flavor] key")
    func keys() throws {
        let base = "[project]\nname = \"a\"\nversion = \"1\"\n[tool.flavor]\n"
        let p = try PyProject.parse(base + "startup = [[\"--help\"], [\"version\", \"-v\"]]\nprogressive = false\n", file: "/p/pyproject.toml")
        #expect(p.startup == [["--help"], ["version", "-v"]] && !p.progressive)
        #expect(try PyProject.parse(base, file: "/p/pyproject.toml").startup == [["--help"]])
        do { _ = try PyProject.parse(base + "startup = [\"--help\"]\n", file: "/p/pyproject.toml"); Issue.record("accepted") } catch {
            #expect(error.message.contains("tool.flavor.startup must be an array of arrays of strings"))
        }
    }
}
