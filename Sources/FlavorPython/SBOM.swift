import FlavorBuild
import FlavorEngine
import FlavorFormat
import FlavorSys

/// The Python build's part of the attestation: every installed distribution (from its
/// .dist-info), the interpreter, the bundled shared libraries with the Debian package they came
/// from, and the provenance of the project (pyproject digest, project tree digest).
enum PythonSBOM {
    struct Library {
        var name: String
        var host: String        // where it was copied from on the build machine
        var staged: String      // the copy in the package (RUNPATH rewritten, so its own digest)
    }

    static func attestation(project p: PyProject, runtime: StagedRuntime, roots: [String], libraries: [Library]) throws(BuildError) -> AttestationPlan {
        var a = AttestationPlan()
        a.components = try distributions(roots) + [try interpreter(runtime)] + libraryComponents(libraries)
        let pyproject: [UInt8]
        do { pyproject = try FS.readFile(p.file, limit: 16 << 20) } catch { throw BuildError("\(p.file): \(error.reason)") }
        let tree = try projectFiles(p.directory)
        a.provenance = [
            ("source", .object([
                ("manifest", .string("pyproject.toml")), ("manifest_digest", .string("sha256:" + hex(bytes: SHA256.hash(pyproject)))),
                ("tree_digest", .string("sha256:" + hex(bytes: Attestation.listingDigest(tree)))), ("tree_files", .int(Int64(tree.count))),
            ])),
            ("python", .object([("version", .string(runtime.interpreter.version)), ("implementation", .string("cpython"))])),
        ]
        return a
    }

    // MARK: distributions

    /// One component per `*.dist-info` directory directly under each root.
    static func distributions(_ roots: [String]) throws(BuildError) -> [JSONValue] {
        var out = [(String, JSONValue)]()
        for root in roots {
            for name in ((try? FS.listDirectory(root)) ?? []).sorted() where name.hasSuffix(".dist-info") {
                let dir = root + "/" + name
                guard let meta = try? FS.readFile(dir + "/METADATA", limit: 8 << 20) else { continue }
                let h = headers(meta)
                guard let dist = h.first(where: { $0.0 == "name" })?.1, let version = h.first(where: { $0.0 == "version" })?.1 else { continue }
                var c: [(String, JSONValue)] = [
                    ("type", .string("library")), ("bom-ref", .string("pypi:\(normalized(dist))@\(version)")),
                    ("name", .string(dist)), ("version", .string(version)),
                    ("purl", .string("pkg:pypi/\(normalized(dist))@\(version)")),
                ]
                if let summary = h.first(where: { $0.0 == "summary" })?.1, !summary.isEmpty { c.append(("description", .string(summary))) }
                if let l = licenses(h) { c.append(("licenses", l)) }
                // RECORD lists every installed file with its SHA-256: its own digest stands for all of them.
                if let record = try? FS.readFile(dir + "/RECORD", limit: 64 << 20) {
                    c.append(("hashes", .array([.object([("alg", .string("SHA-256")), ("content", .string(hex(bytes: SHA256.hash(record))))])])))
                    let files = record.split(separator: UInt8(ascii: "\n")).count
                    c.append(("properties", .array([.object([("name", .string("flavor:record_files")), ("value", .string(String(files)))]),
                                                    .object([("name", .string("flavor:hash_of")), ("value", .string(name + "/RECORD"))])])))
                }
                out.append((normalized(dist), .object(c)))
            }
        }
        return out.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// PEP 503 normalised name, as purl's pypi type wants it.
    static func normalized(_ name: String) -> String {
        var s = "", dash = false
        for ch in name.lowercased() {
            if ch == "-" || ch == "_" || ch == "." { if !dash { s.append("-"); dash = true } } else { s.append(ch); dash = false }
        }
        return s
    }

    /// The RFC 822 header block of a METADATA file, names lowercased, continuation lines joined.
    static func headers(_ bytes: [UInt8]) -> [(String, String)] {
        var out = [(String, String)]()
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty || line == "\r" { break }
            if line.first == " " || line.first == "\t" {
                if !out.isEmpty { out[out.count - 1].1 += "\n" + String(line).trimmingWhitespace() }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            out.append((line[..<colon].lowercased(), String(line[line.index(after: colon)...]).trimmingWhitespace()))
        }
        return out
    }

    /// License-Expression (an SPDX expression), else License (when it is a name, not the text),
    /// else the classifiers' license names.
    static func licenses(_ h: [(String, String)]) -> JSONValue? {
        if let e = h.first(where: { $0.0 == "license-expression" })?.1, !e.isEmpty {
            return .array([.object([("expression", .string(e))])])
        }
        var names = [String]()
        if let l = h.first(where: { $0.0 == "license" })?.1, !l.isEmpty, !l.contains("\n"), l.count <= 80, l.uppercased() != "UNKNOWN" {
            names.append(l)
        }
        for (k, v) in h where k == "classifier" && v.hasPrefix("License ::") {
            let name = v.split(separator: ":").last.map { String($0).trimmingWhitespace() } ?? ""
            if !name.isEmpty && !names.contains(name) { names.append(name) }
        }
        guard !names.isEmpty else { return nil }
        return .array(names.map { .object([("license", .object([("name", .string($0))]))]) })
    }

    // MARK: interpreter and libraries

    static func interpreter(_ rt: StagedRuntime) throws(BuildError) -> JSONValue {
        let digest: [UInt8]
        do { digest = SHA256.hash(try FS.readFile(rt.executableStaged, limit: 1 << 30)) } catch { throw BuildError("\(rt.executableStaged): \(error.reason)") }
        return .object([
            ("type", .string("application")), ("bom-ref", .string("cpython@\(rt.interpreter.version)")),
            ("name", .string("cpython")), ("version", .string(rt.interpreter.version)),
            ("description", .string("CPython runtime interpreter (from \(rt.interpreter.executable))")),
            ("purl", .string("pkg:generic/cpython@\(rt.interpreter.version)")),
            ("hashes", .array([.object([("alg", .string("SHA-256")), ("content", .string(hex(bytes: digest)))])])),
        ])
    }

    static func libraryComponents(_ libs: [Library]) -> [JSONValue] {
        let debs = debianPackages(libs.map(\.host))
        return libs.sorted { $0.name < $1.name }.map { l in
            var c: [(String, JSONValue)] = [("type", .string("library")), ("bom-ref", .string("lib:" + l.name)), ("name", .string(l.name))]
            var props: [JSONValue] = [.object([("name", .string("flavor:host_path")), ("value", .string(l.host))])]
            if let d = debs[l.host] {
                c.append(("version", .string(d.version)))
                c.append(("purl", .string("pkg:deb/debian/\(d.package)@\(percentEncoded(d.version))?arch=\(d.arch)")))
                props.append(.object([("name", .string("flavor:debian_package")), ("value", .string(d.package))]))
            }
            if let b = try? FS.readFile(l.staged, limit: 1 << 30) {
                c.append(("hashes", .array([.object([("alg", .string("SHA-256")), ("content", .string(hex(bytes: SHA256.hash(b))))])])))
            }
            c.append(("properties", .array(props)))
            return .object(c)
        }
    }

    /// purl versions escape ':' (Debian epochs) and '+'.
    static func percentEncoded(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case ":": out += "%3A"
            case "+": out += "%2B"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Host library path → (package, version, arch), from dpkg's database; empty where there is no dpkg.
    /// Merged-/usr systems list files under /lib as well as /usr/lib, so both spellings are asked.
    static func debianPackages(_ paths: [String]) -> [String: (package: String, version: String, arch: String)] {
        guard !paths.isEmpty, Subprocess.available("dpkg-query") else { return [:] }
        var asked = [String: String]()   // spelling → host path
        for p in paths {
            asked[p] = p
            if p.hasPrefix("/usr/lib/") { asked[String(p.dropFirst(4))] = p } else if p.hasPrefix("/lib/") { asked["/usr" + p] = p }
        }
        guard let r = try? Subprocess.run(["dpkg-query", "-S"] + asked.keys.sorted(), env: ["PATH=/usr/bin:/bin", "LC_ALL=C"]) else { return [:] }
        var owner = [String: String]()   // host path → "pkg:arch"
        for line in r.stdoutText.split(separator: "\n") {
            guard let sep = line.range(of: ": ") else { continue }
            let pkg = String(line[..<sep.lowerBound]).split(separator: ",").first.map(String.init) ?? ""
            if let host = asked[String(line[sep.upperBound...])], owner[host] == nil { owner[host] = pkg }
        }
        let pkgs = Set(owner.values).sorted()
        guard !pkgs.isEmpty, let v = try? Subprocess.run(["dpkg-query", "-W", "-f", "${binary:Package} ${Version} ${Architecture}\n"] + pkgs,
                                                          env: ["PATH=/usr/bin:/bin", "LC_ALL=C"]) else { return [:] }
        var versions = [String: (String, String)]()
        for line in v.stdoutText.split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 3 else { continue }
            versions[f[0]] = (f[1], f[2])
            versions[String(f[0].split(separator: ":").first ?? "")] = (f[1], f[2])
        }
        var out = [String: (package: String, version: String, arch: String)]()
        for (host, pkg) in owner {
            guard let (version, arch) = versions[pkg] else { continue }
            out[host] = (String(pkg.split(separator: ":").first ?? ""), version, arch)
        }
        return out
    }

    // MARK: project tree

    /// The project's own files (what `pip install .` read): everything but hidden entries, build
    /// output, caches, and virtual environments.
    static func projectFiles(_ dir: String) throws(BuildError) -> [ContentFile] {
        var out = [ContentFile]()
        func skip(_ name: String, _ path: String, isDirectory: Bool) -> Bool {
            if name.hasPrefix(".") || name == "__pycache__" || name.hasSuffix(".egg-info") { return true }
            if isDirectory && (name == "build" || name == "dist" || FS.exists(path + "/pyvenv.cfg")) { return true }
            return false
        }
        func walk(_ d: String, _ rel: String) throws(SysError) {
            for e in try FS.listDirectoryWithStatus(d) {
                let path = d + "/" + e.name, r = rel.isEmpty ? e.name : rel + "/" + e.name
                if skip(e.name, path, isDirectory: e.status.isDirectory) { continue }
                if e.status.isDirectory { try walk(path, r) } else if e.status.isRegular {
                    out.append(ContentFile(path: r, digest: SHA256.hash(try FS.readFile(path, limit: 1 << 30))))
                }
            }
        }
        do { try walk(dir, "") } catch { throw BuildError("hashing the project tree \(dir): \(error.reason)") }
        return out
    }
}
