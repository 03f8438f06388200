/// The parts of the signed metadata JSON that readers act on (spec §4). `json` keeps the whole
/// document, so unknown keys survive and `flavor inspect` can show everything.
///
/// With `deferSlots` (the launcher), the slot list, whose size grows with the package, is only
/// counted at first: `slots` and `json` parse it on each use until `resolvingSlots()` returns
/// a copy that holds it. A warm start never reads it; the extraction path resolves it first, so
/// that a malformed entry is an error there and not an empty list.
public struct Metadata: Sendable {
    private var partialJSON: JSONValue
    private var parsedSlots: [SlotMetadata]
    private var deferredSlots: DeferredSlots?
    public var packageName: String
    public var packageVersion: String
    /// Number of entries in `slots` (known without parsing them).
    public let slotCount: Int
    public var command: String
    public var executionEnv: [(String, String)]
    public var runtimeEnv: RuntimeEnv
    public var workenvDirectories: [(path: String, mode: UInt32?)]
    public var workenvEnv: [(String, String)]
    public var cacheValidation: CacheValidation?
    public var setupCommands: [JSONValue]
    public var buildTool: String

    /// `compatibility.min_glibc` ("2.34"): the newest GLIBC_ version a bundled binary needs.
    /// Read from the parsed JSON when asked (only before a cold extraction), so a warm start pays nothing.
    public var minGlibc: String? { partialJSON["compatibility"]?["min_glibc"]?.stringValue }

    /// `runtime.python.interpreter` ("{workenv}/python/bin/python3.11"), for the launcher's `python` command.
    public var pythonInterpreter: String? { partialJSON["runtime"]?["python"]?["interpreter"]?.stringValue }

    /// `policy` (0.5.x): {platforms, refuse_root, max_age_days, require_env}; read from the parsed
    /// top level, which a warm start has anyway.
    public var policy: JSONValue? { partialJSON["policy"] }

    /// Metadata JSON over this size is refused: the Rust launcher caps it at 1 MiB too (spec §4.1).
    public static let maxJSONSize = 1 << 20

    /// The signed bytes and where the unparsed slot list sits in them.
    struct DeferredSlots: Sendable {
        let bytes: [UInt8]
        let range: Range<Int>
    }

    /// The whole document.
    public var json: JSONValue {
        guard let d = deferredSlots else { return partialJSON }
        return (try? JSONValue.parse(d.bytes)) ?? partialJSON
    }

    /// The slot entries (empty if deferred ones are malformed: `resolvingSlots()` says why).
    public var slots: [SlotMetadata] {
        guard let d = deferredSlots else { return parsedSlots }
        return (try? Self.parseSlots(JSONValue.parse(Array(d.bytes[d.range])))) ?? []
    }

    /// This metadata with its slot list parsed; throws what a malformed entry gives.
    public func resolvingSlots() throws(FormatError) -> Metadata {
        guard let d = deferredSlots else { return self }
        var m = self
        m.parsedSlots = try Self.parseSlots(JSONValue.parse(Array(d.bytes[d.range])))
        m.partialJSON = try JSONValue.parse(d.bytes)
        m.deferredSlots = nil
        return m
    }

    /// Where the deferred slot list is in the JSON bytes (nil when parsed or absent): what a memo
    /// of these bytes keeps so that the next parse need not scan for its end (`slotsAt`).
    public var deferredSlotList: JSONValue.Deferred? {
        deferredSlots.map { JSONValue.Deferred(range: $0.range, elements: slotCount) }
    }

    public init(jsonBytes: [UInt8], deferSlots: Bool = false, slotsAt known: JSONValue.Deferred? = nil) throws(FormatError) {
        guard deferSlots else { try self.init(json: JSONValue.parse(jsonBytes)); return }
        let (partial, deferred) = try JSONValue.parse(jsonBytes, deferring: "slots", known: known)
        try self.init(partial, slots: [], slotCount: deferred?.elements ?? 0)
        deferredSlots = deferred.map { DeferredSlots(bytes: jsonBytes, range: $0.range) }
    }

    public init(json: JSONValue) throws(FormatError) {
        let slots = try Self.parseSlots(json["slots"])
        try self.init(json, slots: slots, slotCount: slots.count)
    }

    static func parseSlots(_ list: JSONValue?) throws(FormatError) -> [SlotMetadata] {
        var slots = [SlotMetadata]()
        for (i, s) in (list?.arrayValue ?? []).enumerated() { slots.append(try SlotMetadata(json: s, position: i)) }
        return slots
    }

    private init(_ json: JSONValue, slots: [SlotMetadata], slotCount: Int) throws(FormatError) {
        guard json.objectValue != nil else { throw .metadata("top level is not an object") }
        partialJSON = json
        parsedSlots = slots
        deferredSlots = nil
        self.slotCount = slotCount
        guard let format = json["format"]?.stringValue, format == "PSPF/2025" else {
            throw .metadata("\"format\" is not \"PSPF/2025\"")
        }
        guard let pkg = json["package"], let name = pkg["name"]?.stringValue else {
            throw .metadata("missing package.name")
        }
        packageName = name
        packageVersion = pkg["version"]?.stringValue ?? ""
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
            cacheValidation = CacheValidation(checkFile: f, expectedContent: cv["expected_content"]?.stringValue ?? "")
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

/// `cache_validation`: a file whose content must match for a workenv to count as valid.
/// (A struct, not a tuple: a tuple optional costs a metadata instantiation on every launch.)
public struct CacheValidation: Sendable, Equatable {
    public var checkFile: String
    public var expectedContent: String
    public init(checkFile: String, expectedContent: String) { self.checkFile = checkFile; self.expectedContent = expectedContent }
}
