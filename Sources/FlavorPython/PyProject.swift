import FlavorBuild
import FlavorFormat
import FlavorSys
import TOMLKit

/// What `flavor pack` reads from a pyproject.toml: `[project]` and `[tool.flavor]` (upstream's keys
/// where they exist, spec §10.1, plus ours). Every `[tool.flavor]` key is checked: an unknown or
/// wrong-typed one is an error naming the key and the file.
public struct PyProject: Sendable {
    public var file: String
    public var directory: String
    public var name: String
    public var version: String
    public var description: String?
    public var dependencies: [String] = []
    /// `[project.scripts]`, in file order.
    public var scripts: [(name: String, target: String)] = []

    // [tool.flavor]
    public var entryPoint: String?
    public var packageName: String?
    public var python: String?
    public var extras: [String] = []
    public var exclude: [String] = []
    public var extraSlots: [JSONValue] = []
    public var keepStdlibExtras = false
    public var stdlibSources = false
    public var strip = true
    /// Progressive extraction: dependencies and stdlib parts the startup profile does not import
    /// become lazy slots (`progressive = false` or `flavor pack --eager`: everything eager).
    public var progressive = true
    /// Argument lists the entry point runs with at build time; what they import is eager.
    public var startup: [[String]] = [["--help"]]
    public var env: [(String, String)] = []
    public var runtimeEnv = RuntimeEnvConfig()

    public struct RuntimeEnvConfig: Sendable {
        public var unset: [String] = []
        public var pass: [String] = []
        public var set: [(String, String)] = []
        public var map: [(String, String)] = []
        /// Upstream's switch: false drops the default unset list (the host's Python settings then reach the app).
        public var isolated = true
    }

    /// The `[tool.flavor]` keys we take, with their type: anything else is refused.
    static let toolKeys: [(String, String)] = [
        ("entry_point", "a string"), ("package_name", "a string"), ("metadata", "a table"), ("python", "a string"),
        ("extras", "an array of strings"), ("exclude", "an array of strings"), ("slots", "an array of tables"),
        ("keep_stdlib_extras", "a boolean"), ("stdlib_sources", "a boolean"), ("strip", "a boolean"), ("execution", "a table"), ("build", "a table"),
        ("progressive", "a boolean"), ("startup", "an array of arrays of strings"),
    ]

    public static func load(_ path: String) throws(BuildError) -> PyProject {
        guard FS.exists(path) else {
            throw BuildError("\(path): no pyproject.toml here (run flavor pack in a Python project, or pass --manifest M.json)")
        }
        let bytes: [UInt8]
        do { bytes = try FS.readFile(path, limit: 4 << 20) } catch { throw BuildError("\(path): cannot read: \(error.reason)") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw BuildError("\(path): not UTF-8 text") }
        return try parse(text, file: path)
    }

    /// Parses the text of a pyproject.toml named `file` (its directory is the project's).
    public static func parse(_ text: String, file: String) throws(BuildError) -> PyProject {
        let root: JSONValue
        do {
            let table = try TOMLTable(string: text)
            root = try JSONValue.parse(Array(table.convert(to: .json, options: []).utf8), maxDepth: 128)
        } catch let e as TOMLParseError {
            throw BuildError("\(file): invalid TOML at line \(e.source.begin.line), column \(e.source.begin.column): \(e.description)")
        } catch {
            throw BuildError("\(file): invalid TOML: \(error)")
        }
        guard let project = root["project"], project.objectValue != nil else {
            throw BuildError("\(file): no [project] table (flavor pack needs [project] name and version)")
        }
        func string(_ v: JSONValue?, _ key: String) throws(BuildError) -> String? {
            guard let v else { return nil }
            guard let s = v.stringValue else { throw BuildError("\(file): \(key) must be a string") }
            return s
        }
        func strings(_ v: JSONValue?, _ key: String) throws(BuildError) -> [String] {
            guard let v else { return [] }
            guard let a = v.arrayValue else { throw BuildError("\(file): \(key) must be an array of strings") }
            var out = [String]()
            for (i, e) in a.enumerated() {
                guard let s = e.stringValue else { throw BuildError("\(file): \(key)[\(i)] must be a string") }
                out.append(s)
            }
            return out
        }
        func stringTable(_ v: JSONValue?, _ key: String) throws(BuildError) -> [(String, String)] {
            guard let v else { return [] }
            guard let o = v.objectValue else { throw BuildError("\(file): \(key) must be a table of strings") }
            var out = [(String, String)]()
            for (k, e) in o {
                guard let s = e.stringValue else { throw BuildError("\(file): \(key).\(k) must be a string") }
                out.append((k, s))
            }
            return out
        }
        func onlyKeys(_ v: JSONValue, _ allowed: [String], _ prefix: String) throws(BuildError) {
            for (k, _) in v.objectValue ?? [] where !allowed.contains(k) {
                throw BuildError("\(file): unknown key \(prefix).\(k) (known: \(allowed.joined(separator: ", ")))")
            }
        }

        guard let name = try string(project["name"], "project.name"), !name.isEmpty else {
            throw BuildError("\(file): [project] has no name")
        }
        var version = try string(project["version"], "project.version")
        let dir = parentDirectory(file)
        if version == nil, (project["dynamic"]?.arrayValue ?? []).contains(.string("version")) {
            // Upstream's rule for a dynamic version: a VERSION file beside pyproject.toml.
            if let v = try? FS.readFile(dir + "/VERSION", limit: 4096) {
                version = String(decoding: v, as: UTF8.self).trimmingWhitespace()
            }
        }
        guard let version, !version.isEmpty else {
            throw BuildError("\(file): [project] has no version (a static version, or dynamic = [\"version\"] with a VERSION file)")
        }
        var p = PyProject(file: file, directory: dir, name: name, version: version)
        p.description = try string(project["description"], "project.description")
        p.dependencies = try strings(project["dependencies"], "project.dependencies")
        for (k, v) in try stringTable(project["scripts"], "project.scripts") { p.scripts.append((k, v)) }
        // The TOML library sorts keys; the default entry point is the first script as written.
        let order = scriptOrder(text)
        p.scripts.sort { (order.firstIndex(of: $0.name) ?? Int.max, $0.name) < (order.firstIndex(of: $1.name) ?? Int.max, $1.name) }

        guard let tool = root["tool"]?["flavor"] else { return p }
        guard tool.objectValue != nil else { throw BuildError("\(file): tool.flavor must be a table") }
        let known = toolKeys.map(\.0)
        for (k, v) in tool.objectValue ?? [] {
            guard let type = toolKeys.first(where: { $0.0 == k })?.1 else {
                throw BuildError("\(file): unknown key tool.flavor.\(k) (known: \(known.joined(separator: ", ")))")
            }
            let ok: Bool
            switch type {
            case "a string": ok = v.stringValue != nil
            case "a boolean": ok = v.boolValue != nil
            case "a table": ok = v.objectValue != nil
            case "an array of strings": ok = v.arrayValue.map { $0.allSatisfy { $0.stringValue != nil } } ?? false
            case "an array of arrays of strings":
                ok = v.arrayValue.map { $0.allSatisfy { $0.arrayValue.map { $0.allSatisfy { $0.stringValue != nil } } ?? false } } ?? false
            default: ok = v.arrayValue.map { $0.allSatisfy { $0.objectValue != nil } } ?? false
            }
            if !ok { throw BuildError("\(file): tool.flavor.\(k) must be \(type)") }
        }
        p.entryPoint = try string(tool["entry_point"], "tool.flavor.entry_point")
        p.packageName = try string(tool["package_name"], "tool.flavor.package_name")
        if let meta = tool["metadata"] {
            try onlyKeys(meta, ["package_name"], "tool.flavor.metadata")
            p.packageName = try string(meta["package_name"], "tool.flavor.metadata.package_name") ?? p.packageName
        }
        p.python = try string(tool["python"], "tool.flavor.python")
        p.extras = try strings(tool["extras"], "tool.flavor.extras")
        p.exclude = try strings(tool["exclude"], "tool.flavor.exclude")
        p.extraSlots = tool["slots"]?.arrayValue ?? []
        p.keepStdlibExtras = tool["keep_stdlib_extras"]?.boolValue ?? false
        p.stdlibSources = tool["stdlib_sources"]?.boolValue ?? false
        p.strip = tool["strip"]?.boolValue ?? true
        p.progressive = tool["progressive"]?.boolValue ?? true
        if let runs = tool["startup"]?.arrayValue { p.startup = runs.map { ($0.arrayValue ?? []).compactMap(\.stringValue) } }
        if let build = tool["build"] {
            try onlyKeys(build, ["exclude"], "tool.flavor.build")
            p.exclude += try strings(build["exclude"], "tool.flavor.build.exclude")
        }
        if let exec = tool["execution"] {
            try onlyKeys(exec, ["runtime", "env"], "tool.flavor.execution")
            p.env = try stringTable(exec["env"], "tool.flavor.execution.env")
            if let rt = exec["runtime"] {
                try onlyKeys(rt, ["env"], "tool.flavor.execution.runtime")
                if let e = rt["env"] {
                    let k = "tool.flavor.execution.runtime.env"
                    try onlyKeys(e, ["unset", "pass", "set", "map", "isolated"], k)
                    p.runtimeEnv.unset = try strings(e["unset"], k + ".unset")
                    p.runtimeEnv.pass = try strings(e["pass"], k + ".pass")
                    p.runtimeEnv.set = try stringTable(e["set"], k + ".set")
                    p.runtimeEnv.map = try stringTable(e["map"], k + ".map")
                    if let i = e["isolated"] {
                        guard let b = i.boolValue else { throw BuildError("\(file): \(k).isolated must be a boolean") }
                        p.runtimeEnv.isolated = b
                    }
                }
            }
        }
        return p
    }
}

/// Key names of the `[project.scripts]` table in the order they are written (bare or quoted keys).
func scriptOrder(_ text: String) -> [String] {
    var names = [String](), inside = false
    for raw in text.split(whereSeparator: { $0.isNewline }) {
        let line = String(raw).trimmingWhitespace()
        if line.hasPrefix("[") { inside = line.replacing(" ", with: "") == "[project.scripts]"; continue }
        guard inside, let eq = line.firstIndex(of: "=") else { continue }
        var key = String(line[..<eq]).trimmingWhitespace()
        if key.count >= 2, let q = key.first, q == "\"" || q == "'", key.last == q { key = String(key.dropFirst().dropLast()) }
        names.append(key)
    }
    return names
}

func parentDirectory(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

extension String {
    func trimmingWhitespace() -> String {
        let u = Array(utf8)
        var a = 0, b = u.count
        while a < b, [0x20, 0x09, 0x0A, 0x0D].contains(u[a]) { a += 1 }
        while b > a, [0x20, 0x09, 0x0A, 0x0D].contains(u[b - 1]) { b -= 1 }
        return String(decoding: u[a..<b], as: UTF8.self)
    }
}
