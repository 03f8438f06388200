import Testing
import FlavorFormat
@testable import FlavorEngine

// The launcher's warm path has fast paths (no quotes in the command, [String] environment
// entries, path components without split); these pin that they give what the general code gave.

@Suite("Warm launch fast paths")
struct WarmPathTests {
    @Test("a command without quotes or backslashes splits as the general splitter does", arguments: [
        "/w/bin/run", "/w/bin/run a  b", " \t/w/bin/run\nx ", "é /w/ü x", "a\u{301} b", "x \u{301}y", "",
    ])
    func unquotedSplit(command: String) throws {
        // A trailing quoted word sends the same text through the general splitter.
        let general = try shellSplit(command + " ''")
        #expect(try shellSplit(command) == Array(general.dropLast()))
    }

    @Test("last path component as split(separator: \"/\").last gives it", arguments: [
        "/a/b.psp", "b.psp", "/a/b/", "//x//", "/", "", "a/é.psp",
    ])
    func lastComponent(path: String) {
        #expect(lastPathComponent(path) == path.split(separator: "/").last.map(String.init))
    }

    @Test("duplicate names: untouched ones are kept, a set name keeps one entry")
    func duplicates() throws {
        let text = #"{"format":"PSPF/2025","package":{"name":"d","version":"1"},"slots":[],"execution":{"command":"x","env":{"SET":"v"}}}"#
        let m = try Metadata(jsonBytes: Array(text.utf8))
        let env = ExecPlan.environment(base: ["DUP=1", "SET=a", "DUP=2", "SET=b", "NOEQ", "E=x=y", "PATH=/bin"], metadata: m,
                                       workenv: "/w", exePath: "/p/app.psp", settings: Settings(lookup: { _ in nil }), warn: { _ in })
        #expect(env.filter { $0.hasPrefix("DUP=") } == ["DUP=1", "DUP=2"])
        #expect(env.filter { $0.hasPrefix("SET=") } == ["SET=v"])
        #expect(env.contains("E=x=y"))
        #expect(!env.contains("NOEQ"))
        #expect(env.contains("PATH=/w/bin:/bin"))
        #expect(env.contains("FLAVOR_COMMAND_NAME=app.psp"))
    }
}
