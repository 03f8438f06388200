import Testing
@testable import FlavorSys

@Suite("Environment entries edited in place (the launcher's exec environment)")
struct EnvironmentEntriesTests {
    @Test("entries without = are dropped; names are whole names, not prefixes")
    func names() {
        let env = EnvironmentEntries(["PATH=/bin", "BROKEN", "PATHX=1", "A==b", "=empty"])
        #expect(env.entries == ["PATH=/bin", "PATHX=1", "A==b", "=empty"])
        #expect(env.get("PATH") == "/bin")
        #expect(env.get("PAT") == nil)
        #expect(env.get("A") == "=b")
        #expect(env.get("") == "empty")
        #expect(env.index(of: "PATHX") == 1)
    }

    @Test("get sees the last of repeated names; set replaces the first and drops the rest")
    func repeated() {
        var env = EnvironmentEntries(["X=1", "Y=2", "X=3", "X=1"])
        #expect(env.get("X") == "1")
        #expect(env.index(of: "X", last: true) == 3)
        env.set("X", "9")
        #expect(env.entries == ["X=9", "Y=2"])
        env.set("Z", "new")
        #expect(env.entries == ["X=9", "Y=2", "Z=new"])
    }

    @Test("remove(matching:except:) drops glob matches that no kept pattern names")
    func removeMatching() {
        var env = EnvironmentEntries(["LC_ALL=C", "LC_CTYPE=x", "LANG=y", "PYTHONPATH=p", "PYTHONHOME=h"])
        env.remove(matching: "LC_*", except: ["LC_ALL"])
        env.remove(matching: "PYTHON*", except: [])
        #expect(env.entries == ["LC_ALL=C", "LANG=y"])
        env.remove("LANG")
        #expect(env.entries == ["LC_ALL=C"])
    }

    @Test("values and names that are not ASCII pass through unchanged")
    func utf8() {
        var env = EnvironmentEntries(["GRÜSSE=héllo", "NAME=日本"])
        #expect(env.get("GRÜSSE") == "héllo")
        env.set("NAME", "ü")
        #expect(env.entries == ["GRÜSSE=héllo", "NAME=ü"])
    }
}

@Suite("Glob over UTF-8 bytes")
struct GlobTests {
    @Test("? is one Unicode scalar, however many bytes it takes", arguments: [
        ("?", "é", true), ("?", "日", true), ("??", "日", false), ("a?c", "a日c", true), ("a?c", "ac", false),
        ("*本", "日本", true), ("日*", "日本", true), ("*?", "日", true), ("?*?", "日", false),
        ("É*", "É", true), ("É", "E", false), ("*x*", "日x本", true),
    ] as [(String, String, Bool)])
    func scalars(pattern: String, name: String, expected: Bool) {
        #expect(Glob.match(pattern, name) == expected)
    }

    @Test("backtracking over multi-byte scalars never matches inside one")
    func backtracking() {
        // "日" is E6 97 A5: a star that backtracked one byte at a time could line "?" up on a
        // continuation byte; whole scalars make "*?本" need one scalar before 本.
        #expect(Glob.match("*?本", "日本"))
        #expect(!Glob.match("*??本", "日本"))
        #expect(Glob.match("*A*B", "日A本B"))
        #expect(!Glob.match("*A*B", "日A本C"))
    }
}
