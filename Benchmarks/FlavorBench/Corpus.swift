import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A corpus definition: `corpora/<name>.json` (corpora/README.md documents the format).
/// Exactly one of `files`, `generate`, `pip`, `dir` says where the data comes from.
struct CorpusDefinition: Codable, Sendable {
    var name: String
    var description: String?
    /// The expected digest; materialising fails when the data comes out different.
    var digest: String?
    var files: [LiteralFile]?
    var generate: GenerateSpec?
    var pip: PipSpec?
    /// An existing directory, used in place (not copied into the cache).
    var dir: String?

    struct LiteralFile: Codable, Sendable {
        var path: String
        var text: String
        /// Octal, e.g. "0755" (default "0644").
        var mode: String?
    }

    struct GenerateSpec: Codable, Sendable {
        var seed: UInt64
        var trees: [TreeSpec]?
        var blobs: [BlobSpec]?
    }

    /// Many small files in `packages` × `modules` directories, sizes min + (max − min)·u² in [min_size, max_size].
    struct TreeSpec: Codable, Sendable {
        var dir: String?
        var files: Int
        var minSize: Int
        var maxSize: Int
        var packages: Int?
        var modules: Int?
        /// Shares of file kinds; see `FileKind`. Default: source 0.55, data 0.2, text 0.15, binary 0.1.
        var mix: [String: Double]?
    }

    /// One large file: `text_fraction` of it prose, the rest PRNG bytes.
    struct BlobSpec: Codable, Sendable {
        var path: String
        var size: Int
        var textFraction: Double
    }

    /// `python3 -m pip install --no-deps --only-binary=:all: --no-compile --target DIR` of pinned wheels.
    struct PipSpec: Codable, Sendable {
        var pythonVersion: String
        var platform: String
        var implementation: String
        var requirements: [String]
        /// Paths removed after the install because they depend on the machine (interpreter path in
        /// console scripts, pip's own RECORD/INSTALLER/REQUESTED files). Globs: `*` within one component.
        var remove: [String]?
    }

    enum Source { case files, generate, pip, dir }

    func source() throws -> Source {
        var found = [Source]()
        if files != nil { found.append(.files) }
        if generate != nil { found.append(.generate) }
        if pip != nil { found.append(.pip) }
        if dir != nil { found.append(.dir) }
        guard found.count == 1 else {
            throw BenchError("corpus \(name): the definition needs exactly one of files, generate, pip, dir (has \(found.count))")
        }
        return found[0]
    }

    static func load(_ path: String) throws -> (CorpusDefinition, Data) {
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("\(path): cannot read corpus definition") }
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        do {
            let def = try dec.decode(CorpusDefinition.self, from: data)
            _ = try def.source()
            guard !def.name.isEmpty, !def.name.contains("/") else { throw BenchError("\(path): bad corpus name '\(def.name)'") }
            return (def, data)
        } catch let e as BenchError { throw e } catch {
            throw BenchError("\(path): not a valid corpus definition: \(error)")
        }
    }
}

/// A corpus ready to measure: its directory and its digest.
struct Corpus: Sendable {
    var name: String
    /// The definition file, or "--dir" for an ad-hoc directory.
    var origin: String
    var root: String
    var summary: TreeSummary
    var digest: String
}

/// Bump when a generator's output changes: cached corpora are then made again.
let generatorVersion = 1

/// Where corpora live: `corpora/*.json` and the ignored `corpora/.cache/`.
struct CorpusStore {
    let dir: String
    var cacheDir: String { dir + "/.cache" }

    func definitionPath(_ name: String) -> String { dir + "/" + name + ".json" }

    func available() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Loads `name`'s definition, materialises it unless the cache is current, and digests it.
    func corpus(named name: String) throws -> Corpus {
        let path = definitionPath(name)
        let origin = "corpora/\(name).json"
        guard FileManager.default.fileExists(atPath: path) else {
            throw BenchError("no corpus '\(name)': \(path) does not exist (have: \(available().joined(separator: ", ")))")
        }
        let (def, raw) = try CorpusDefinition.load(path)
        guard def.name == name else { throw BenchError("\(path): defines '\(def.name)', expected '\(name)' (file name = corpus name)") }
        if try def.source() == .dir, let d = def.dir {
            return try adHoc(name: name, dir: d, origin: origin)
        }
        var sha = SHA256()
        sha.update(raw)
        sha.update("generator-version \(generatorVersion)")
        let key = sha.hexDigest()
        let root = cacheDir + "/" + name
        let stamp = cacheDir + "/" + name + ".digest.json"
        if let s = try? Stamp.read(stamp), s.definitionSha256 == key, FileManager.default.fileExists(atPath: root) {
            let summary = try walkTree(root)
            let digest = try treeDigest(root, summary)
            if digest == s.digest {
                return Corpus(name: name, origin: origin, root: root, summary: summary, digest: digest)
            }
            progress("corpus \(name): cached copy was modified (digest \(digest.prefix(19))…, recorded \(s.digest.prefix(19))…); making it again")
        }
        try makeDirs(cacheDir)
        let tmp = root + ".tmp-\(getpid())"
        try removeTree(tmp)
        try makeDirs(tmp)
        let t0 = monotonicSeconds()
        progress("corpus \(name): materialising into \(root)")
        do {
            switch try def.source() {
            case .files: try materialiseFiles(def.files ?? [], into: tmp)
            case .generate: try Generator.materialise(def.generate!, into: tmp)
            case .pip: try materialisePip(def.pip!, into: tmp)
            case .dir: break
            }
            var summary = try walkTree(tmp)
            try normaliseModes(tmp, summary)
            summary = try walkTree(tmp)
            let digest = try treeDigest(tmp, summary)
            if let want = def.digest, want != digest {
                throw BenchError("""
                    corpus \(name): materialised data has digest \(digest), but \(path) pins \(want). \
                    The data differs from every other machine's (for pip corpora: a different wheel was served \
                    or a newer pip lays files out differently); kept for inspection in \(tmp)
                    """)
            }
            try removeTree(root)
            guard rename(tmp, root) == 0 else { throw BenchError("\(root): rename: \(String(cString: strerror(errno)))") }
            try Stamp(name: name, definitionSha256: key, digest: digest, files: summary.files, dirs: summary.dirs,
                      bytes: summary.bytes, generatorVersion: generatorVersion, created: isoNow()).write(stamp)
            progress(String(format: "corpus %@: %d files, %d dirs, %@ in %.1f s, %@", name, summary.files, summary.dirs,
                            formatBytes(summary.bytes), monotonicSeconds() - t0, digest))
            let final = try walkTree(root)
            return Corpus(name: name, origin: origin, root: root, summary: final, digest: digest)
        } catch let e as BenchError {
            if !e.description.contains("kept for inspection") { try? removeTree(tmp) }
            throw e
        }
    }

    /// Any directory, used in place.
    func adHoc(name: String, dir: String, origin: String) throws -> Corpus {
        let abs = URL(fileURLWithPath: dir).standardizedFileURL.path
        let summary = try walkTree(abs)
        guard summary.files > 0 else { throw BenchError("\(abs): no files to measure") }
        return Corpus(name: name, origin: origin, root: abs, summary: summary, digest: try treeDigest(abs, summary))
    }

    private func materialiseFiles(_ files: [CorpusDefinition.LiteralFile], into root: String) throws {
        for f in files {
            guard !f.path.hasPrefix("/"), !f.path.split(separator: "/").contains("..") else {
                throw BenchError("literal file path must be relative and stay inside the corpus: \(f.path)")
            }
            let p = root + "/" + f.path
            try makeDirs((p as NSString).deletingLastPathComponent)
            let mode = Int(f.mode ?? "0644", radix: 8) ?? 0o644
            try writeFile(p, f.text, mode: mode)
        }
    }

    private func materialisePip(_ spec: CorpusDefinition.PipSpec, into root: String) throws {
        guard which("python3") != nil else { throw BenchError("python3 not found: needed to materialise pip corpora") }
        let args = ["python3", "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--no-deps",
                    "--only-binary=:all:", "--no-compile", "--python-version", spec.pythonVersion,
                    "--platform", spec.platform, "--implementation", spec.implementation,
                    "--target", root] + spec.requirements
        progress("  \(args.map(shellQuote).joined(separator: " "))")
        try checked(args, env: ["PIP_ROOT_USER_ACTION": "ignore"], what: "pip install")
        for pattern in spec.remove ?? [] {
            for p in try glob(root, pattern) { try removeTree(p) }
        }
        _ = try? capture(["find", root, "-name", "__pycache__", "-type", "d", "-prune", "-exec", "rm", "-rf", "{}", "+"])
    }

    /// Expands a relative pattern whose components may contain `*`.
    private func glob(_ root: String, _ pattern: String) throws -> [String] {
        var current = [root]
        for comp in pattern.split(separator: "/").map(String.init) {
            var next = [String]()
            for base in current {
                if comp.contains("*") {
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
                    for n in names.sorted() where fnmatch(comp, n, 0) == 0 { next.append(base + "/" + n) }
                } else if FileManager.default.fileExists(atPath: base + "/" + comp) {
                    next.append(base + "/" + comp)
                }
            }
            current = next
        }
        return current
    }
}

/// `corpora/.cache/<name>.digest.json`: what the materialised copy must hash to.
struct Stamp: Codable {
    var name: String
    var definitionSha256: String
    var digest: String
    var files: Int
    var dirs: Int
    var bytes: Int64
    var generatorVersion: Int
    var created: String

    static func read(_ path: String) throws -> Stamp {
        guard let d = FileManager.default.contents(atPath: path) else { throw BenchError("\(path): missing") }
        return try JSONDecoder().decode(Stamp.self, from: d)
    }

    func write(_ path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(self).write(to: URL(fileURLWithPath: path))
    }
}

func isoNow() -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: Date())
}

func formatBytes(_ b: Int64) -> String {
    let d = Double(b)
    if d >= 1e9 { return String(format: "%.2f GB", d / 1e9) }
    if d >= 1e6 { return String(format: "%.1f MB", d / 1e6) }
    if d >= 1e3 { return String(format: "%.1f kB", d / 1e3) }
    return "\(b) B"
}
