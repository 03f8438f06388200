/// A small command-line parser: `--name value`, `--name=value`, `--flag`, positionals.
struct Args {
    private var items: [String]
    private(set) var positionals = [String]()
    private var options = [String: [String]]()
    private var flags = Set<String>()

    /// `valued`: options that take a value; everything else starting with `--` is a flag.
    init(_ argv: [String], valued: Set<String>, flags known: Set<String>) throws {
        items = argv
        var i = 0
        while i < argv.count {
            let a = argv[i]
            if a == "--" { positionals += argv[(i + 1)...]; break }
            if a.hasPrefix("--") {
                var name = String(a.dropFirst(2)), value: String?
                if let eq = name.firstIndex(of: "=") { value = String(name[name.index(after: eq)...]); name = String(name[..<eq]) }
                if valued.contains(name) {
                    if value == nil {
                        guard i + 1 < argv.count else { throw BenchError("--\(name) needs a value") }
                        i += 1
                        value = argv[i]
                    }
                    options[name, default: []].append(value!)
                } else if known.contains(name) {
                    guard value == nil else { throw BenchError("--\(name) takes no value") }
                    flags.insert(name)
                } else {
                    throw BenchError("unknown option --\(name) (see flavor-bench help)")
                }
            } else if a.hasPrefix("-") && a.count > 1 && a != "-" {
                throw BenchError("unknown option \(a) (see flavor-bench help)")
            } else {
                positionals.append(a)
            }
            i += 1
        }
    }

    func value(_ name: String) -> String? { options[name]?.last }
    func values(_ name: String) -> [String] { options[name] ?? [] }
    func flag(_ name: String) -> Bool { flags.contains(name) }

    func int(_ name: String, min: Int = 0) throws -> Int? {
        guard let v = value(name) else { return nil }
        guard let n = Int(v), n >= min else { throw BenchError("--\(name): expected an integer ≥ \(min), got '\(v)'") }
        return n
    }

    func double(_ name: String) throws -> Double? {
        guard let v = value(name) else { return nil }
        guard let n = Double(v), n > 0 else { throw BenchError("--\(name): expected a positive number, got '\(v)'") }
        return n
    }
}
