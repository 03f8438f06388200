/// The parts of the signed metadata JSON that readers act on (spec §4). `json` keeps the whole
/// document, so unknown keys survive and `flavor inspect` can show everything.
public struct Metadata: Sendable {
    public var json: JSONValue
    public var packageName: String
    public var packageVersion: String
    public var slots: [SlotMetadata]
    public var command: String
    public var executionEnv: [(String, String)]
    public var runtimeEnv: RuntimeEnv
    public var workenvDirectories: [(path: String, mode: UInt32?)]
    public var workenvEnv: [(String, String)]
    public var cacheValidation: (checkFile: String, expectedContent: String)?
    public var setupCommands: [JSONValue]
    public var buildTool: String

    /// Metadata JSON over this size is refused: the Rust launcher caps it at 1 MiB too (spec §4.1).
    public static let maxJSONSize = 1 << 20

    public init(jsonBytes: [UInt8]) throws(FormatError) {
        try self.init(json: JSONValue.parse(jsonBytes))
    }

    public init(json: JSONValue) throws(FormatError) {
        guard json.objectValue != nil else { throw .metadata("top level is not an object") }
        self.json = json
        guard let format = json["format"]?.stringValue, format == "PSPF/2025" else {
            throw .metadata("\"format\" is not \"PSPF/2025\"")
        }
        guard let pkg = json["package"], let name = pkg["name"]?.stringValue else {
            throw .metadata("missing package.name")
        }
        packageName = name
        packageVersion = pkg["version"]?.stringValue ?? ""
        var slots = [SlotMetadata]()
        for (i, s) in (json["slots"]?.arrayValue ?? []).enumerated() {
            slots.append(try SlotMetadata(json: s, position: i))
        }
        self.slots = slots
        guard let exec = json["execution"], let cmd = exec["command"]?.stringValue else {
            throw .metadata("missing execution.command")
        }
        command = cmd
        executionEnv = Self.stringPairs(exec["env"])
        runtimeEnv = RuntimeEnv(json: json["runtime"]?["env"])
        var dirs = [(path: String, mode: UInt32?)]()
        for d in json["workenv"]?["directories"]?.arrayValue ?? [] {
            guard let p = d["path"]?.stringValue else { continue }
            dirs.append((p, d["mode"]?.stringValue.flatMap { parseOctalMode($0) } ?? d["mode"]?.intValue.map { UInt32(truncatingIfNeeded: $0) }))
        }
        workenvDirectories = dirs
        workenvEnv = Self.stringPairs(json["workenv"]?["env"])
        if let cv = json["cache_validation"], let f = cv["check_file"]?.stringValue {
            cacheValidation = (f, cv["expected_content"]?.stringValue ?? "")
        } else {
            cacheValidation = nil
        }
        setupCommands = json["setup_commands"]?.arrayValue ?? []
        buildTool = json["build"]?["tool"]?.stringValue ?? ""
    }

    static func stringPairs(_ v: JSONValue?) -> [(String, String)] {
        (v?.objectValue ?? []).compactMap { k, v in v.stringValue.map { (k, $0) } }
    }
}

public struct SlotMetadata: Sendable {
    public var index: Int
    public var id: String
    public var source: String
    public var target: String
    public var size: Int64
    /// "sha256:<64 hex>", bare hex (Python attestation slots), or "" ($SELF).
    public var checksum: String
    public var operations: String
    public var purpose: String
    public var lifecycle: String
    public var permissions: String?
    public var selfRef: Bool
    /// flavor's own key (upstream ignores it): "sha256:<hex>" of a chunked gzip slot's header,
    /// which lists each chunk's SHA-256, so chunks can be verified in parallel (ChunkedGzip).
    public var chunkIndexChecksum: String?

    public init(json: JSONValue, position: Int) throws(FormatError) {
        guard json.objectValue != nil else { throw .metadata("slots[\(position)] is not an object") }
        index = Int(json["slot"]?.intValue ?? Int64(position))
        guard index == position else { throw .metadata("slots[\(position)].slot is \(index)") }
        id = json["id"]?.stringValue ?? "slot\(position)"
        source = json["source"]?.stringValue ?? ""
        target = json["target"]?.stringValue ?? ""
        size = json["size"]?.intValue ?? 0
        checksum = json["checksum"]?.stringValue ?? ""
        operations = json["operations"]?.stringValue ?? ""
        purpose = json["purpose"]?.stringValue ?? ""
        lifecycle = json["lifecycle"]?.stringValue ?? "runtime"
        permissions = json["permissions"]?.stringValue
        selfRef = json["self_ref"]?.boolValue ?? false
        chunkIndexChecksum = json[SlotMetadata.chunkIndexKey]?.stringValue
    }

    public static let chunkIndexKey = "chunk_index_checksum"

    /// The signed SHA-256 of a chunked slot's header, nil when absent or malformed.
    public var chunkIndexDigest: [UInt8]? {
        guard let s = chunkIndexChecksum, s.hasPrefix("sha256:"), let b = bytes(fromHex: String(s.dropFirst(7))), b.count == 32 else { return nil }
        return b
    }

    /// The signed digest this slot's stored bytes must match: full 32 bytes for "sha256:<hex>",
    /// a prefix for bare hex (Python attestation slots), nil when absent.
    public var signedDigest: [UInt8]? {
        var s = checksum
        if s.hasPrefix("sha256:") { s.removeFirst(7) }
        guard !s.isEmpty, let b = bytes(fromHex: s), b.count <= 32, b.count >= 8 else { return nil }
        return b
    }

    /// Target relative to the workenv: a leading "{workenv}/" or a bare "{workenv}" is dropped.
    public var relativeTarget: String { Self.relative(target) }

    public static func relative(_ target: String) -> String {
        var t = target
        if t.hasPrefix("{workenv}") { t.removeFirst("{workenv}".count) }
        while t.hasPrefix("/") { t.removeFirst() }
        while t.hasPrefix("./") { t.removeFirst(2) }
        while t.hasSuffix("/") { t.removeLast() }
        return t
    }

    public var lifecycleValue: Lifecycle { Lifecycle(manifestName: lifecycle) }
}

public struct RuntimeEnv: Sendable {
    public var unset: [String] = []
    public var map: [(String, String)] = []
    public var set: [(String, String)] = []
    public var pass: [String] = []

    public init() {}

    init(json: JSONValue?) {
        guard let json else { return }
        unset = (json["unset"]?.arrayValue ?? []).compactMap { $0.stringValue }
        pass = (json["pass"]?.arrayValue ?? []).compactMap { $0.stringValue }
        map = Metadata.stringPairs(json["map"])
        set = Metadata.stringPairs(json["set"])
    }
}

/// Octal mode string as upstream reads it: leading zeros dropped, base 8; nil if invalid.
public func parseOctalMode(_ s: String) -> UInt32? {
    var t = Substring(s)
    if t.hasPrefix("0o") { t = t.dropFirst(2) }
    while t.count > 1 && t.hasPrefix("0") { t = t.dropFirst() }
    guard let v = UInt32(t, radix: 8), v <= 0o7777 else { return nil }
    return v
}
