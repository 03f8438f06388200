import Testing
@testable import FlavorBuild

@Suite("manifest path helpers (no Foundation path APIs in FlavorBuild)")
struct ManifestPathTests {
    @Test("parentDirectory gives what dirname(1) gives", arguments: [
        ("a/b", "a"), ("b", "."), ("/b", "/"), ("/a/b/", "/a"), ("a//b", "a"), ("//b", "/"), ("/", "/"), ("./m.json", "."),
        ("/work/x/manifest.json", "/work/x"),
    ])
    func parent(_ path: String, _ expected: String) {
        #expect(parentDirectory(of: path) == expected)
    }

    @Test("replacing substitutes every occurrence, including adjacent ones and none")
    func replace() {
        #expect(replacing("{workenv}", in: "{workenv}/a/{workenv}{workenv}", with: "/w") == "/w/a//w/w")
        #expect(replacing("{workenv}", in: "plain/path", with: "/w") == "plain/path")
        #expect(replacing("{workenv}", in: "ü/{workenv}", with: "é") == "ü/é")
    }
}
