import Testing
@testable import FlavorFormat

// MARK: Helpers

private func metadata(_ text: String) throws(FormatError) -> Metadata {
    try Metadata(jsonBytes: Array(text.utf8))
}

/// The error message of a `.metadata` refusal, or nil if parsing succeeded or failed otherwise.
private func refusal(_ text: String) -> String? {
    do throws(FormatError) {
        _ = try metadata(text)
        return nil
    } catch {
        if case let .metadata(why) = error { return why }
        return nil
    }
}

/// Spec §4.4, the real Rust 0.5.4 metadata (SOURCE_DATE_EPOCH=1700000000, seed test-seed),
/// pretty-printed with two spaces as serde_json writes it.
private let specExample = """
{
  "format": "PSPF/2025",
  "format_version": "1.0.0",
  "package": {
    "name": "hello",
    "version": "1.0.0"
  },
  "slots": [
    {
      "slot": 0,
      "id": "hello-script",
      "source": "hello.sh",
      "target": "bin/hello.sh",
      "size": 87,
      "checksum": "sha256:23e79f16a5e1ce695e36f6c9060c8de1dd922854cc622540aaf3b355f8b11a27",
      "operations": "none",
      "purpose": "payload",
      "lifecycle": "runtime",
      "permissions": "0755",
      "resolution": "build"
    }
  ],
  "execution": {
    "command": "{workenv}/bin/hello.sh",
    "env": {
      "GREETING": "hi-rs"
    }
  },
  "verification": {
    "integrity_seal": {
      "required": true,
      "algorithm": "ed25519"
    },
    "signed": true,
    "require_verification": true
  },
  "build": {
    "tool": "flavor-rs",
    "tool_version": "0.5.4",
    "timestamp": "2023-11-14T22:13:20+00:00",
    "deterministic": true,
    "platform": {
      "os": "linux",
      "arch": "x86_64",
      "host": "linux/x86_64"
    }
  },
  "launcher": {
    "tool": "flavor-rs-launcher-0.5.4-linux_amd64",
    "tool_version": "0.5.4",
    "size": 3083096,
    "checksum": "sha256:5a7677943d8486621517610e3e8489dc9f98a12637c40b7246eae89277223e0e",
    "capabilities": [
      "mmap",
      "signed"
    ]
  },
  "compatibility": {
    "min_format_version": "1.0.0",
    "features": []
  },
  "setup_commands": []
}
"""

private func slot(checksum: String = "", target: String = "x") throws -> SlotMetadata {
    let text = "{\"slot\":0,\"target\":\"\(target)\",\"checksum\":\"\(checksum)\"}"
    return try SlotMetadata(json: JSONValue.parse(Array(text.utf8)), position: 0)
}

// MARK: Metadata

@Suite("Metadata model")
struct MetadataTests {
    @Test("the spec §4.4 Rust example parses with every field readers use")
    func specExampleParses() throws {
        let m = try metadata(specExample)
        #expect(m.packageName == "hello")
        #expect(m.packageVersion == "1.0.0")
        #expect(m.command == "{workenv}/bin/hello.sh")
        #expect(m.executionEnv.map(\.0) == ["GREETING"])
        #expect(m.executionEnv.map(\.1) == ["hi-rs"])
        #expect(m.buildTool == "flavor-rs")
        #expect(m.setupCommands.isEmpty)
        #expect(m.cacheValidation == nil)
        #expect(m.workenvDirectories.isEmpty)
        #expect(m.workenvEnv.isEmpty)
        #expect(m.runtimeEnv.unset.isEmpty && m.runtimeEnv.pass.isEmpty && m.runtimeEnv.map.isEmpty && m.runtimeEnv.set.isEmpty)
        #expect(m.json["launcher"]?["size"]?.intValue == 3_083_096, "unknown keys stay available")

        try #require(m.slots.count == 1)
        let s = m.slots[0]
        #expect(s.index == 0)
        #expect(s.id == "hello-script")
        #expect(s.source == "hello.sh")
        #expect(s.target == "bin/hello.sh")
        #expect(s.relativeTarget == "bin/hello.sh")
        #expect(s.size == 87)
        #expect(s.checksum == "sha256:23e79f16a5e1ce695e36f6c9060c8de1dd922854cc622540aaf3b355f8b11a27")
        #expect(s.operations == "none")
        #expect(s.purpose == "payload")
        #expect(s.lifecycle == "runtime")
        #expect(s.lifecycleValue == .runtime)
        #expect(s.permissions == "0755")
        #expect(s.selfRef == false)
        let digest = try #require(s.signedDigest)
        #expect(digest.count == 32)
        #expect(SlotDescriptor.checksumPrefix(digest) == 0x69ce_e1a5_169f_e723, "the same prefix the descriptor stores")
    }

    @Test("the compact form of the same document parses the same way")
    func compactExample() throws {
        let compact = try JSONValue.parse(Array(specExample.utf8)).serialized(pretty: false)
        let m = try Metadata(jsonBytes: compact)
        #expect(m.packageName == "hello")
        #expect(m.slots.map(\.id) == ["hello-script"])
        #expect(m.command == "{workenv}/bin/hello.sh")
    }

    @Test("optional sections are read: runtime.env, workenv, cache_validation, setup_commands")
    func optionalSections() throws {
        let m = try metadata("""
            {"format":"PSPF/2025","package":{"name":"p"},"execution":{"command":"run"},
             "runtime":{"env":{"unset":["AWS_*","X"],"pass":["HOME"],"map":{"OLD":"NEW","A":"B"},"set":{"K":"V"}}},
             "workenv":{"directories":[{"path":"{workenv}/tmp","mode":"0700"},{"path":"logs","mode":448},{"path":"plain"},{"mode":"0755"}],
                        "env":{"W":"{workenv}/lib"}},
             "cache_validation":{"check_file":"{workenv}/ok","expected_content":"some data"},
             "setup_commands":[{"type":"execute","command":"true"},{"type":"chmod","path":"x","mode":"700"}]}
            """)
        #expect(m.packageVersion == "")
        #expect(m.slots.isEmpty)
        #expect(m.runtimeEnv.unset == ["AWS_*", "X"])
        #expect(m.runtimeEnv.pass == ["HOME"])
        #expect(m.runtimeEnv.map.map { "\($0.0)>\($0.1)" } == ["OLD>NEW", "A>B"])
        #expect(m.runtimeEnv.set.map { "\($0.0)=\($0.1)" } == ["K=V"])
        #expect(m.workenvDirectories.map(\.path) == ["{workenv}/tmp", "logs", "plain"], "entries without a path are skipped")
        #expect(m.workenvDirectories.map(\.mode) == [0o700, 448, nil])
        #expect(m.workenvEnv.map { "\($0.0)=\($0.1)" } == ["W={workenv}/lib"])
        #expect(m.cacheValidation?.checkFile == "{workenv}/ok")
        #expect(m.cacheValidation?.expectedContent == "some data")
        #expect(m.setupCommands.count == 2)
    }

    @Test("a slot entry without optional keys gets the documented defaults")
    func slotDefaults() throws {
        let m = try metadata("""
            {"format":"PSPF/2025","package":{"name":"p"},"execution":{"command":"run"},"slots":[{},{"slot":1,"self_ref":true}]}
            """)
        try #require(m.slots.count == 2)
        #expect(m.slots[0].index == 0)
        #expect(m.slots[0].id == "slot0")
        #expect(m.slots[0].lifecycle == "runtime")
        #expect(m.slots[0].permissions == nil)
        #expect(m.slots[0].signedDigest == nil)
        #expect(m.slots[1].selfRef)
    }

    @Test("refusals name what is missing or wrong", arguments: [
        ("missing format", #"{"package":{"name":"p"},"execution":{"command":"c"}}"#, "format"),
        ("wrong format", #"{"format":"PSPF/2024","package":{"name":"p"},"execution":{"command":"c"}}"#, "format"),
        ("format not a string", #"{"format":2025,"package":{"name":"p"},"execution":{"command":"c"}}"#, "format"),
        ("missing package", #"{"format":"PSPF/2025","execution":{"command":"c"}}"#, "package.name"),
        ("missing package.name", #"{"format":"PSPF/2025","package":{"version":"1"},"execution":{"command":"c"}}"#, "package.name"),
        ("missing execution", #"{"format":"PSPF/2025","package":{"name":"p"}}"#, "execution.command"),
        ("missing execution.command", #"{"format":"PSPF/2025","package":{"name":"p"},"execution":{"env":{}}}"#, "execution.command"),
        ("slot mismatch", #"{"format":"PSPF/2025","package":{"name":"p"},"execution":{"command":"c"},"slots":[{"slot":1}]}"#, "slots[0].slot"),
        ("second slot mismatch", #"{"format":"PSPF/2025","package":{"name":"p"},"execution":{"command":"c"},"slots":[{"slot":0},{"slot":0}]}"#, "slots[1].slot"),
        ("slot not an object", #"{"format":"PSPF/2025","package":{"name":"p"},"execution":{"command":"c"},"slots":[3]}"#, "slots[0]"),
        ("top level array", #"[{"format":"PSPF/2025"}]"#, "top level"),
    ])
    func refusals(label: String, text: String, mentions: String) {
        let why = refusal(text)
        #expect(why != nil, "\(label) must be refused as a metadata error")
        #expect(why?.contains(mentions) == true, "\(label): \(why ?? "nil") should mention \(mentions)")
    }

    @Test("bytes that are not JSON are refused as a JSON error")
    func notJSON() {
        let err = #expect(throws: FormatError.self) { _ = try metadata("{\"format\": ") }
        guard case .json? = err else { Issue.record("expected .json, got \(String(describing: err))"); return }
    }
}

// MARK: Slot fields

@Suite("Slot metadata helpers")
struct SlotMetadataTests {
    @Test("signedDigest reads sha256:<hex> as 32 bytes and bare hex as a prefix", arguments: [
        ("sha256:" + String(repeating: "ab", count: 32), 32),
        (String(repeating: "cd", count: 32), 32),
        ("0123456789abcdef", 8),
        ("0123456789ABCDEF", 8),
    ])
    func signedDigestPresent(checksum: String, count: Int) throws {
        let digest = try #require(try slot(checksum: checksum).signedDigest)
        #expect(digest.count == count)
        var hexPart = checksum
        if hexPart.hasPrefix("sha256:") { hexPart.removeFirst(7) }
        #expect(digest == bytes(fromHex: hexPart))
    }

    @Test("signedDigest is nil when the checksum is absent or unusable", arguments: [
        "", "sha256:", "garbage", "sha256:xyz", "0123456789abcde", "01234567", "md5:0123456789abcdef",
        "sha256:" + String(repeating: "ab", count: 33),
    ])
    func signedDigestAbsent(checksum: String) throws {
        #expect(try slot(checksum: checksum).signedDigest == nil)
    }

    @Test("relativeTarget strips {workenv}, leading ./ and /, and trailing /", arguments: [
        ("{workenv}/bin/x", "bin/x"), ("{workenv}", ""), ("{workenv}/", ""), ("bin/x/", "bin/x"),
        ("./a", "a"), ("lib", "lib"), ("/abs/x", "abs/x"), ("{workenv}/./lib/", "lib"),
    ])
    func relativeTargets(target: String, expected: String) throws {
        #expect(try slot(target: target).relativeTarget == expected)
        #expect(SlotMetadata.relative(target) == expected)
    }
}

// MARK: Octal modes

@Suite("Octal permission strings")
struct OctalModeTests {
    @Test("octal strings parse as upstream reads them", arguments: [
        ("0755", UInt32?(0o755)), ("755", 0o755), ("00600", 0o600), ("0o644", 0o644), ("0", 0), ("0000", 0),
        ("7777", 0o7777), ("4755", 0o4755),
        ("", nil), ("8", nil), ("0789", nil), ("abc", nil), ("10000", nil), ("-1", nil), ("0x1ff", nil),
    ] as [(String, UInt32?)])
    func parse(text: String, expected: UInt32?) {
        #expect(parseOctalMode(text) == expected)
    }
}

// MARK: Python runtime and glibc requirement

@Suite("compatibility.min_glibc and runtime.python.interpreter")
struct PythonMetadataTests {
    static let python = #"""
        {"format": "PSPF/2025", "package": {"name": "py", "version": "1"}, "execution": {"command": "x"},
         "slots": [{"slot": 0, "id": "python", "target": "python"}],
         "runtime": {"env": {"set": {"A": "1"}}, "python": {"version": "3.11.7", "interpreter": "{workenv}/python/bin/python3.11"}},
         "compatibility": {"min_format_version": "1.0.0", "features": [], "min_glibc": "2.34"}}
        """#

    @Test("both are read, with the slot list deferred or not", arguments: [false, true])
    func read(deferSlots: Bool) throws {
        let m = try Metadata(jsonBytes: Array(Self.python.utf8), deferSlots: deferSlots)
        #expect(m.minGlibc == "2.34")
        #expect(m.pythonInterpreter == "{workenv}/python/bin/python3.11")
        #expect(m.runtimeEnv.set.map { $0.0 } == ["A"], "runtime.env still reads beside runtime.python")
        let resolved = try m.resolvingSlots()
        #expect(resolved.minGlibc == "2.34" && resolved.pythonInterpreter == m.pythonInterpreter)
    }

    @Test("absent or not a string: nil", arguments: [
        #"{"format": "PSPF/2025", "package": {"name": "p"}, "execution": {"command": "x"}, "slots": []}"#,
        #"{"format": "PSPF/2025", "package": {"name": "p"}, "execution": {"command": "x"}, "slots": [], "runtime": {"python": {"interpreter": 3}}, "compatibility": {"min_glibc": 2.34}}"#,
        #"{"format": "PSPF/2025", "package": {"name": "p"}, "execution": {"command": "x"}, "slots": [], "runtime": {"python": "python3"}, "compatibility": []}"#,
    ])
    func absent(text: String) throws {
        let m = try Metadata(jsonBytes: Array(text.utf8), deferSlots: true)
        #expect(m.minGlibc == nil)
        #expect(m.pythonInterpreter == nil)
    }
}
