// FoundationEssentials, not Foundation (ArgumentParser uses Essentials too): `flavor` then loads
// neither ICU nor CoreFoundation at start, which every pack paid.
import FoundationEssentials
import FlavorFormat
import FlavorEngine
import FlavorSys

/// manifest.json as upstream's builders take it (spec §8), turned into a PackPlan.
public enum Manifest {
    public struct Options: Sendable {
        public var launcherPath: String
        public var key: Ed25519KeyPair
        public var deterministic: Bool
        public var workenvBase: String?
        public var codec: String?       // overrides gzip for directory slots: "gzip", "zstd", "none"
        public var gzipLevel: Int32 = 6
        public var zstdLevel: Int32 = 3
        /// SOURCE_DATE_EPOCH as found in the environment (`Settings.sourceDateEpoch`).
        public var sourceDateEpoch: String?
        /// Append the attestation slot (SBOM + provenance); `--no-attestation` turns it off.
        public var attestation = true
        public init(launcherPath: String, key: Ed25519KeyPair, deterministic: Bool) {
            self.launcherPath = launcherPath; self.key = key; self.deterministic = deterministic
        }
    }

    public static func load(path: String, options: Options) throws(BuildError) -> PackPlan {
        let bytes: [UInt8]
        do { bytes = try FS.readFile(path, limit: 16 << 20) } catch { throw BuildError("\(path): cannot read manifest: \(error.reason)") }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch {
            if case let .json(why, offset) = error { throw BuildError("\(path): invalid manifest JSON: \(why) at byte \(offset)") }
            throw BuildError("\(path): \(error)")
        }
        var p = try plan(json, file: path, baseDir: parentDirectory(of: path), options: options)
        // The manifest is this build's source: its digest goes into the provenance (the slot
        // sources' files are in the attestation's content listing).
        p.attestation?.provenance.append(("source", .object([
            ("manifest", .string(String(path.split(separator: "/").last ?? Substring(path)))),
            ("manifest_digest", .string("sha256:" + hex(bytes: SHA256.hash(bytes)))),
        ])))
        return p
    }

    static func requiredString(_ v: JSONValue?, _ key: String, _ file: String) throws(BuildError) -> String {
        guard let s = v?.stringValue, !s.isEmpty else { throw BuildError("\(file): missing or empty \"\(key)\"") }
        return s
    }

    public static func plan(_ json: JSONValue, file: String, baseDir: String, options: Options) throws(BuildError) -> PackPlan {
        guard json.objectValue != nil else { throw BuildError("\(file): top level must be a JSON object") }
        let name = try requiredString(json["package"]?["name"], "package.name", file)
        let version = try requiredString(json["package"]?["version"], "package.version", file)
        let command = try requiredString(json["execution"]?["command"], "execution.command", file)
        var plan = PackPlan(name: name, version: version, launcherPath: options.launcherPath, command: command, key: options.key)
        plan.description = json["package"]?["description"]?.stringValue
        let env = json["execution"]?["env"] ?? json["execution"]?["environment"]
        for (k, v) in env?.objectValue ?? [] {
            guard v.stringValue != nil else { throw BuildError("\(file): execution.env.\(k) must be a string") }
            plan.executionEnv.append((k, v))
        }
        plan.deterministic = options.deterministic
        if !options.attestation { plan.attestation = nil }
        if let e = options.sourceDateEpoch {
            guard let v = Int64(e) else { throw BuildError("SOURCE_DATE_EPOCH=\(e) is not an integer") }
            plan.sourceDateEpoch = v
        }
        plan.gzipLevel = options.gzipLevel
        plan.zstdLevel = options.zstdLevel
        for key in ["cache_validation", "runtime", "workenv"] {
            if let v = json[key] { plan.extraMetadata.append((key, v)) }
        }
        if let v = json["policy"], !v.isNull {
            // Checked as the launcher will read it, and written with all four keys (upstream's Rust
            // launcher ignores a package policy that lacks one).
            let p: PackagePolicy
            do { p = try PackagePolicy(json: v, package: file) } catch { throw BuildError(error.message) }
            plan.extraMetadata.append(("policy", .object([
                ("platforms", .array(p.platforms.map { .string($0) })), ("refuse_root", .bool(p.refuseRoot)),
                ("max_age_days", p.maxAgeDays.map { .int(Int64($0)) } ?? .null), ("require_env", .array(p.requireEnv.map { .string($0) })),
            ])))
        }
        for (i, c) in (json["setup_commands"]?.arrayValue ?? []).enumerated() {
            if let s = c.stringValue {
                plan.setupCommands.append(.object([("type", .string("execute")), ("command", .string(s))]))
            } else if c["type"]?.stringValue != nil {
                plan.setupCommands.append(c)
            } else {
                throw BuildError("\(file): setup_commands[\(i)] needs a \"type\"")
            }
        }
        let base = options.workenvBase ?? FS.currentDirectory()
        for (i, s) in (json["slots"]?.arrayValue ?? []).enumerated() {
            let where_ = "\(file): slots[\(i)]"
            guard s.objectValue != nil else { throw BuildError("\(where_) is not an object") }
            if let n = s["slot"]?.intValue, n != Int64(i) { throw BuildError("\(where_).slot is \(n), must equal its position \(i)") }
            let id = try requiredString(s["id"], "slots[\(i)].id", file)
            let source = try requiredString(s["source"], "slots[\(i)].source", file)
            let target = try requiredString(s["target"], "slots[\(i)].target", file)
            if source == "$SELF" { throw BuildError("\(where_) (\"\(id)\"): $SELF slots are not supported (upstream 0.5.4 launchers cannot run them)") }
            var path = replacing("{workenv}", in: source, with: base)
            if !path.hasPrefix("/") { path = baseDir + "/" + path }
            let opsText = s["operations"]?.stringValue ?? ""
            var chain: OperationChain
            do { chain = try OperationChain(manifest: opsText) } catch { throw BuildError("\(where_) (\"\(id)\"): \(error)") }
            let content: PackSlot.Content
            if FS.isDirectory(path) {
                content = .directory(path)
                // We encode directories: always a tar, compressed as asked (gzip by default for tgz).
                var codec = chain.operations.first(where: { $0 != .tar })
                if let c = options.codec { codec = c == "zstd" ? .zstd : c == "none" ? nil : .gzip }
                chain = OperationChain(codec.map { [.tar, $0] } ?? [.tar])
            } else if FS.exists(path) {
                content = .file(path)
            } else {
                throw BuildError("\(where_) (\"\(id)\"): source \(path) does not exist")
            }
            var slot = PackSlot(id: id, source: source, target: target, content: content, chain: chain)
            slot.purpose = s["purpose"]?.stringValue ?? "data"
            slot.lifecycle = s["lifecycle"]?.stringValue ?? "runtime"
            if let p = s["permissions"]?.stringValue {
                guard parseOctalMode(p) != nil else { throw BuildError("\(where_).permissions \"\(p)\" is not an octal mode") }
                slot.permissions = p
            }
            slot.resolution = s["resolution"]?.stringValue ?? "build"
            plan.slots.append(slot)
        }
        return plan
    }
}

/// The directory part of `path` ("." when there is none), as `dirname` gives it.
func parentDirectory(of path: String) -> String {
    var u = Array(path.utf8)
    while u.count > 1 && u.last == UInt8(ascii: "/") { u.removeLast() }
    guard let slash = u.lastIndex(of: UInt8(ascii: "/")) else { return "." }
    var end = slash
    while end > 0 && u[end - 1] == UInt8(ascii: "/") { end -= 1 }
    return end == 0 ? "/" : String(decoding: u[..<end], as: UTF8.self)
}

/// Every occurrence of `needle` in `text` replaced, on UTF-8 bytes.
func replacing(_ needle: String, in text: String, with replacement: String) -> String {
    let t = Array(text.utf8), n = Array(needle.utf8), r = Array(replacement.utf8)
    guard !n.isEmpty, t.count >= n.count else { return text }
    var out = [UInt8](), i = 0
    while i < t.count {
        if i + n.count <= t.count && t[i..<i + n.count].elementsEqual(n) { out += r; i += n.count } else { out.append(t[i]); i += 1 }
    }
    return String(decoding: out, as: UTF8.self)
}
