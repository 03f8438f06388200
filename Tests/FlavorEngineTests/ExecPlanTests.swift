import Testing
import FlavorFormat
@testable import FlavorEngine

// MARK: Helpers

private let workenv = "/cache/workenv/app"
private let exePath = "/home/u/bin/app.psp"

private func metadata(runtime: String = "{}", workenvEnv: String = "{}", executionEnv: String = "{}",
                      slots: String = "[]") throws -> Metadata {
    let text = """
        {"format":"PSPF/2025","package":{"name":"demo","version":"2.5.0"},"slots":\(slots),
         "execution":{"command":"{workenv}/bin/run","env":\(executionEnv)},
         "runtime":{"env":\(runtime)},"workenv":{"env":\(workenvEnv)}}
        """
    return try Metadata(jsonBytes: Array(text.utf8))
}

private func settings(_ vars: [String: String] = [:]) -> Settings {
    Settings(lookup: { vars[$0] })
}

/// The environment as a dictionary; fails the test if a name appears twice.
private func environment(base: [String], _ m: Metadata, settings s: Settings = settings(),
                         warnings: inout [String]) -> [String: String] {
    var collected = [String]()
    let env = ExecPlan.environment(base: base, metadata: m, workenv: workenv, exePath: exePath, settings: s,
                                   warn: { collected.append($0) })
    warnings = collected
    var dict = [String: String]()
    for e in env {
        let parts = e.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = String(parts[0])
        #expect(dict[key] == nil, "\(key) appears twice")
        dict[key] = parts.count > 1 ? String(parts[1]) : ""
    }
    return dict
}

private func environment(base: [String], _ m: Metadata, settings s: Settings = settings()) -> [String: String] {
    var w = [String]()
    return environment(base: base, m, settings: s, warnings: &w)
}

// MARK: shellSplit

@Suite("Shell-style command splitting")
struct ShellSplitTests {
    @Test("commands split into words as a POSIX shell would", arguments: [
        ("a b  c", ["a", "b", "c"]),
        ("  lead and trail  ", ["lead", "and", "trail"]),
        ("'a b' c", ["a b", "c"]),
        (#""a \"b\" c""#, [#"a "b" c"#]),
        (#"/bin/sh -c "echo x; exit 7""#, ["/bin/sh", "-c", "echo x; exit 7"]),
        (#"a\ b"#, ["a b"]),
        ("a'b'c", ["abc"]),
        ("'' x", ["", "x"]),
        (#""""#, [""]),
        (#""a\nb""#, [#"a\nb"#]),
        (#""a\\b\$c""#, [#"a\b$c"#]),
        (#"'no \"escape\" here'"#, [#"no \"escape\" here"#]),
        ("tab\tsep\nnl", ["tab", "sep", "nl"]),
        ("", []),
        ("   ", []),
    ] as [(String, [String])])
    func splits(command: String, words: [String]) throws {
        #expect(try shellSplit(command) == words)
    }

    @Test("an unterminated quote is refused as a config error", arguments: [
        "'abc", #""abc"#, #"x "y\""#, "ok 'open", #"a "b"#,
    ])
    func unterminated(command: String) {
        let err = #expect(throws: EngineError.self) { _ = try shellSplit(command) }
        #expect(err?.kind == .config)
    }
}

// MARK: globMatch

@Suite("Environment name globs")
struct GlobMatchTests {
    @Test("* and ? match as in runtime.env patterns", arguments: [
        ("AWS_*", "AWS_KEY", true), ("AWS_*", "AWS_", true), ("AWS_*", "AWS", false), ("AWS_*", "XAWS_KEY", false),
        ("*", "", true), ("*", "ANYTHING", true), ("?", "a", true), ("?", "", false), ("?", "ab", false),
        ("a*b", "ab", true), ("a*b", "axxb", true), ("a*b", "axxbc", false), ("a*b*c", "abxbc", true),
        ("*_KEY", "AWS_KEY", true), ("*_KEY", "AWS_KEYS", false), ("*x*", "yyxyy", true), ("a?c", "abc", true),
        ("a?c", "ac", false), ("HOME", "HOME", true), ("HOME", "HOMEX", false), ("HOME", "home", false),
        ("", "", true), ("", "a", false), ("**", "abc", true), ("*.whl", "pkg-1.0.whl", true), ("*.whl", "pkg.whl.txt", false),
    ] as [(String, String, Bool)])
    func matches(pattern: String, name: String, expected: Bool) {
        #expect(ExecPlan.globMatch(pattern, name) == expected)
    }

    @Test("a * in the pattern also matches names that contain a literal *")
    func literalStarInName() {
        #expect(ExecPlan.globMatch("*", "*x"))
        #expect(ExecPlan.globMatch("a*", "a*b"))
        #expect(ExecPlan.globMatch("*.whl", "*.whl"))
    }
}

// MARK: Environment

@Suite("Payload environment (spec §9.7)")
struct ExecEnvironmentTests {
    @Test("runtime.env unset removes names matching a glob and nothing else")
    func unsetGlob() throws {
        let m = try metadata(runtime: #"{"unset":["AWS_*","EXACT"]}"#)
        let env = environment(base: ["AWS_KEY=1", "AWS_SECRET=2", "AWSX=3", "EXACT=4", "EXACTLY=5", "PATH=/usr/bin"], m)
        #expect(env["AWS_KEY"] == nil)
        #expect(env["AWS_SECRET"] == nil)
        #expect(env["EXACT"] == nil)
        #expect(env["AWSX"] == "3")
        #expect(env["EXACTLY"] == "5")
    }

    @Test("unset * clears everything except the pass names")
    func unsetAllKeepsPass() throws {
        let m = try metadata(runtime: #"{"unset":["*"],"pass":["HOME","LANG*"]}"#)
        let env = environment(base: ["HOME=/h", "LANG=C", "LANGUAGE=en", "SECRET=x", "PATH=/usr/bin"], m)
        #expect(env["HOME"] == "/h")
        #expect(env["LANG"] == "C")
        #expect(env["LANGUAGE"] == "en")
        #expect(env["SECRET"] == nil)
        #expect(env["PATH"] == workenv + "/bin", "the old PATH was unset, so only the workenv bin remains")
    }

    @Test("runtime.env map moves a value to its new name")
    func mapMoves() throws {
        let m = try metadata(runtime: #"{"map":{"OLD":"NEW","ABSENT":"OTHER"}}"#)
        let env = environment(base: ["OLD=value", "PATH=/bin"], m)
        #expect(env["OLD"] == nil)
        #expect(env["NEW"] == "value")
        #expect(env["OTHER"] == nil, "mapping a missing name creates nothing")
    }

    @Test("runtime.env set stores literal values without placeholder expansion")
    func setIsLiteral() throws {
        let m = try metadata(runtime: #"{"set":{"LIT":"{workenv}/x","PLAIN":"v","HOME":"/new"}}"#)
        let env = environment(base: ["HOME=/old"], m)
        #expect(env["LIT"] == "{workenv}/x")
        #expect(env["PLAIN"] == "v")
        #expect(env["HOME"] == "/new")
    }

    @Test("a pass name that is not set produces a warning naming it")
    func passWarning() throws {
        let m = try metadata(runtime: #"{"pass":["MISSING_VAR","HOME","GLOB_*"]}"#)
        var warnings = [String]()
        _ = environment(base: ["HOME=/h"], m, warnings: &warnings)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("MISSING_VAR") == true)
    }

    @Test("workenv.env and execution.env expand {workenv}, {package_name}, {version} and {slot:N}")
    func placeholders() throws {
        let m = try metadata(
            workenvEnv: #"{"LIBDIR":"{workenv}/lib","NAME":"{package_name}"}"#,
            executionEnv: #"{"TAG":"{package_name}-{version}","TOOL":"{slot:0}","ROOTSLOT":"{slot:1}","KEEP":"{unknown}"}"#,
            slots: #"[{"slot":0,"target":"{workenv}/bin/tool"},{"slot":1,"target":"{workenv}"}]"#)
        let env = environment(base: [], m)
        #expect(env["LIBDIR"] == workenv + "/lib")
        #expect(env["NAME"] == "demo")
        #expect(env["TAG"] == "demo-2.5.0")
        #expect(env["TOOL"] == workenv + "/bin/tool")
        #expect(env["ROOTSLOT"] == workenv)
        #expect(env["KEEP"] == "{unknown}")
    }

    @Test("later layers win: execution.env over workenv.env over runtime.env set over the inherited value")
    func layerOrder() throws {
        let m = try metadata(runtime: #"{"set":{"A":"runtime","B":"runtime","C":"runtime"}}"#,
                             workenvEnv: #"{"B":"workenv","C":"workenv"}"#,
                             executionEnv: #"{"C":"execution"}"#)
        let env = environment(base: ["A=base", "B=base", "C=base", "D=base"], m)
        #expect(env["A"] == "runtime")
        #expect(env["B"] == "workenv")
        #expect(env["C"] == "execution")
        #expect(env["D"] == "base")
    }

    @Test("FLAVOR_WORKENV, FLAVOR_COMMAND_NAME and FLAVOR_ORIGINAL_COMMAND describe the launch")
    func flavorVariables() throws {
        let env = environment(base: ["FLAVOR_WORKENV=/stale"], try metadata())
        #expect(env["FLAVOR_WORKENV"] == workenv)
        #expect(env["FLAVOR_COMMAND_NAME"] == "app.psp")
        #expect(env["FLAVOR_ORIGINAL_COMMAND"] == exePath)
    }

    @Test("PATH gets the workenv bin directory in front, or becomes it when unset", arguments: [
        (["PATH=/usr/bin:/bin"], workenv + "/bin:/usr/bin:/bin"),
        ([], workenv + "/bin"),
    ] as [([String], String)])
    func pathPrefix(base: [String], expected: String) throws {
        #expect(environment(base: base, try metadata())["PATH"] == expected)
    }

    @Test("FLAVOR_CACHE_DIR defaults to HOME/.cache/flavor/workenv but an inherited value is kept")
    func cacheDirDefault() throws {
        let m = try metadata()
        let s = settings(["HOME": "/home/u"])
        #expect(environment(base: [], m, settings: s)["FLAVOR_CACHE_DIR"] == "/home/u/.cache/flavor/workenv")
        #expect(environment(base: ["FLAVOR_CACHE_DIR=/mine"], m, settings: s)["FLAVOR_CACHE_DIR"] == "/mine")
    }

    @Test("inherited entries without = are dropped and values containing = are kept whole")
    func malformedBase() throws {
        let env = environment(base: ["NOEQUALS", "OPTS=a=b=c", "EMPTY="], try metadata())
        #expect(env["NOEQUALS"] == nil)
        #expect(env["OPTS"] == "a=b=c")
        #expect(env["EMPTY"] == "")
    }
}

// MARK: ExecPlan.make

@Suite("Exec plan")
struct ExecPlanMakeTests {
    @Test("the command is expanded, split, and user arguments are appended")
    func commandLine() throws {
        let text = """
            {"format":"PSPF/2025","package":{"name":"demo","version":"1"},
             "execution":{"command":"{workenv}/bin/run --name '{package_name} app' -v"}}
            """
        let m = try Metadata(jsonBytes: Array(text.utf8))
        let plan = try ExecPlan.make(metadata: m, workenv: workenv, exePath: exePath, userArgs: ["x", "y z"],
                                     baseEnv: ["PATH=/usr/bin"], settings: settings(), warn: { _ in })
        #expect(plan.program == workenv + "/bin/run")
        #expect(plan.argv == [workenv + "/bin/run", "--name", "demo app", "-v", "x", "y z"])
        #expect(plan.env.contains("FLAVOR_WORKENV=" + workenv))
    }

    @Test("a bare program name is looked up on PATH")
    func pathLookup() throws {
        let text = #"{"format":"PSPF/2025","package":{"name":"d"},"execution":{"command":"sh -c true"}}"#
        let m = try Metadata(jsonBytes: Array(text.utf8))
        let plan = try ExecPlan.make(metadata: m, workenv: workenv, exePath: exePath, userArgs: [],
                                     baseEnv: ["PATH=/nonexistent:/bin:/usr/bin"], settings: settings(), warn: { _ in })
        #expect(plan.program.hasSuffix("/sh"))
        #expect(plan.program.hasPrefix("/"))
        #expect(Array(plan.argv.dropFirst()) == ["-c", "true"])
    }

    @Test("an empty command is a config error and a missing program an execution error")
    func badCommands() throws {
        let empty = try Metadata(jsonBytes: Array(#"{"format":"PSPF/2025","package":{"name":"d"},"execution":{"command":"  "}}"#.utf8))
        let e1 = #expect(throws: EngineError.self) {
            _ = try ExecPlan.make(metadata: empty, workenv: workenv, exePath: exePath, userArgs: [], baseEnv: [],
                                  settings: settings(), warn: { _ in })
        }
        #expect(e1?.kind == .config)
        let missing = try Metadata(jsonBytes: Array(#"{"format":"PSPF/2025","package":{"name":"d"},"execution":{"command":"no-such-program-xyz"}}"#.utf8))
        let e2 = #expect(throws: EngineError.self) {
            _ = try ExecPlan.make(metadata: missing, workenv: workenv, exePath: exePath, userArgs: [],
                                  baseEnv: ["PATH=/nonexistent"], settings: settings(), warn: { _ in })
        }
        #expect(e2?.kind == .execution)
    }
}

// MARK: Settings

@Suite("Settings from the environment")
struct SettingsTests {
    @Test("with nothing set the defaults are strict validation, exec mode and the cache enabled")
    func defaults() {
        let s = settings()
        #expect(s.validation == .strict)
        #expect(s.execMode == .exec)
        #expect(s.io == .auto)
        #expect(s.workenvCache)
        #expect(!s.launcherCLI)
        #expect(s.logLevel == "warn")
        #expect(s.maxSlotBytes == 8 << 30)
        #expect(s.workers == 0)
        #expect(!s.includeDevSlots)
        #expect(s.cacheRoot == "/tmp/flavor")
    }

    @Test("FLAVOR_VALIDATION is read case-insensitively and unknown values keep strict", arguments: [
        ("none", Settings.Validation.none), ("NONE", .none), ("Relaxed", .relaxed), ("standard", .standard),
        ("minimal", .minimal), ("strict", .strict), ("bogus", .strict), ("", .strict),
    ] as [(String, Settings.Validation)])
    func validation(value: String, expected: Settings.Validation) {
        #expect(settings(["FLAVOR_VALIDATION": value]).validation == expected)
    }

    @Test("FLAVOR_EXEC_MODE and FLAVOR_IO pick their enums")
    func modes() {
        let s = settings(["FLAVOR_EXEC_MODE": "SPAWN", "FLAVOR_IO": "posix"])
        #expect(s.execMode == .spawn)
        #expect(s.io == .posix)
        #expect(settings(["FLAVOR_EXEC_MODE": "fork"]).execMode == .exec)
    }

    @Test("FLAVOR_WORKENV_CACHE turns the cache off only for false-like values", arguments: [
        ("false", false), ("FALSE", false), ("0", false), ("no", false), ("off", false),
        ("true", true), ("1", true), ("yes", true),
    ])
    func workenvCache(value: String, expected: Bool) {
        #expect(settings(["FLAVOR_WORKENV_CACHE": value]).workenvCache == expected)
    }

    @Test("FLAVOR_LAUNCHER_CLI turns the launcher CLI on only for true-like values", arguments: [
        ("1", true), ("true", true), ("TRUE", true), ("yes", true), ("on", true),
        ("0", false), ("false", false), ("", false), ("2", false),
    ])
    func launcherCLI(value: String, expected: Bool) {
        #expect(settings(["FLAVOR_LAUNCHER_CLI": value]).launcherCLI == expected)
    }

    @Test("FLAVOR_LAUNCHER_LOG_LEVEL wins over FLAVOR_LOG_LEVEL and is lower-cased")
    func logLevel() {
        #expect(settings(["FLAVOR_LOG_LEVEL": "DEBUG"]).logLevel == "debug")
        #expect(settings(["FLAVOR_LOG_LEVEL": "debug", "FLAVOR_LAUNCHER_LOG_LEVEL": "Trace"]).logLevel == "trace")
    }

    @Test("numeric settings accept positive integers only", arguments: [
        ("100", 100, 3), ("0", 8 << 30, 0), ("-5", 8 << 30, 0), ("x", 8 << 30, 0),
    ] as [(String, Int, Int)])
    func numbers(value: String, maxSlot: Int, workers: Int) {
        let s = settings(["FLAVOR_MAX_SLOT_BYTES": value, "FLAVOR_WORKERS": value == "100" ? "3" : value])
        #expect(s.maxSlotBytes == maxSlot)
        #expect(s.workers == workers)
    }

    @Test("the cache root follows the spec §9.3 priority", arguments: [
        (["FLAVOR_WORKENV": "/x/y/workenv/custom", "FLAVOR_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/xdg", "HOME": "/h"], "/x/y"),
        (["FLAVOR_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/xdg", "HOME": "/h"], "/c"),
        (["XDG_CACHE_HOME": "/xdg", "HOME": "/h"], "/xdg/flavor"),
        (["HOME": "/h"], "/h/.cache/flavor"),
        ([:], "/tmp/flavor"),
        (["FLAVOR_WORKENV": "", "FLAVOR_CACHE_DIR": "", "XDG_CACHE_HOME": "", "HOME": "/h"], "/h/.cache/flavor"),
        (["FLAVOR_WORKENV": "/a/b", "HOME": "/h"], "/"),
    ] as [([String: String], String)])
    func cacheRoot(vars: [String: String], expected: String) {
        #expect(settings(vars).cacheRoot == expected)
    }

    @Test("a trailing slash on FLAVOR_WORKENV does not change the cache root")
    func workenvTrailingSlash() {
        #expect(settings(["FLAVOR_WORKENV": "/x/y/workenv/custom/"]).cacheRoot == "/x/y")
    }
}
