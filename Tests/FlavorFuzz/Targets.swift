import CFuzzDriver
import FlavorBuild
import FlavorEngine
import FlavorFormat
import FlavorSys

/// One fuzz target: takes any bytes, must never crash, and checks a property where there is one.
/// A failed property is a crash on purpose (`fatalError`), so libFuzzer keeps the input.
enum Target: String, CaseIterable {
    /// Index, descriptors, metadata (every check of `flavor verify`) and the launcher's open.
    case package
    /// JSON reader, with a round trip: parse → write → parse gives the same value (compact and pretty).
    case json
    /// manifest.json → PackPlan (the reader of untrusted build input).
    case manifest
    /// gzip, chunked gzip and zstd decoders; the first 8 bytes are a declared size (0 = none).
    case decoders
    /// Tar reader feeding the tree writer in a scratch root: nothing may appear outside it.
    case tar

    var summary: String {
        switch self {
        case .package: return "package reader: index, slot table, metadata, verification"
        case .json: return "JSON reader, parse → write → parse round trip"
        case .manifest: return "manifest.json reader"
        case .decoders: return "gzip / chunked gzip / zstd decoders with declared sizes"
        case .tar: return "tar reader + tree writer in a scratch root (nothing written outside)"
        }
    }

    func run(_ data: [UInt8]) {
        switch self {
        case .package: Fuzz.package(data)
        case .json: Fuzz.json(data)
        case .manifest: Fuzz.manifest(data)
        case .decoders: Fuzz.decoders(data)
        case .tar: Fuzz.tar(data)
        }
    }
}

/// Where the file-based targets work: one directory per process, in tmpfs when there is one.
let scratch: String = {
    let base = FS.isDirectory("/dev/shm") ? "/dev/shm" : "/tmp"
    let d = "\(base)/flavor-fuzz-\(Process.id)"
    _ = try? FS.removeTree(d)
    try? FS.mkdirs(d, 0o700)
    return d
}()

/// Decoded sizes are capped low: a fuzzer input that claims gigabytes must be refused, not honoured.
let settings: Settings = {
    var s = Settings(lookup: { _ in nil })
    s.maxSlotBytes = 64 << 20
    s.workers = 1
    s.fileCreationMask = 0o022
    return s
}()

enum Fuzz {
    static func package(_ data: [UInt8]) {
        let path = scratch + "/input.psp"
        guard (try? FS.writeFileAtomically(path, data)) != nil else { return }
        guard let pkg = try? PackageReader(path: path) else { return }
        let report = Verifier.fullReport(pkg)
        if let m = report.metadata {
            _ = m.slots.count
            _ = m.policy.map { try? PackagePolicy(json: $0, package: path) }
            _ = m.json.serialized(pretty: true)
        }
        // The launcher's own open at the lenient levels, which continue past failed checks.
        for level in ["strict", "relaxed", "none"] {
            let s = Settings(lookup: { $0 == "FLAVOR_VALIDATION" ? level : nil })
            if let (p, m) = try? Launch.open(pkg, settings: s, warn: { _ in }), let resolved = try? m.resolvingSlots() {
                precondition(resolved.slots.count == p.descriptors.count, "an opened package's slot list and table disagree")
            }
        }
    }

    static func json(_ data: [UInt8]) {
        guard let v = try? JSONValue.parse(data) else { return }
        for pretty in [false, true] {
            let text = v.serialized(pretty: pretty)
            guard let again = try? JSONValue.parse(text) else { fatalError("our own JSON does not parse: \(String(decoding: text, as: UTF8.self))") }
            guard again == v else { fatalError("round trip changed the value: \(String(decoding: text, as: UTF8.self))") }
        }
    }

    static func manifest(_ data: [UInt8]) {
        guard let json = try? JSONValue.parse(data) else { return }
        let options = Manifest.Options(launcherPath: "/bin/true", key: Ed25519.keyPair(seedString: "fuzz"), deterministic: true)
        _ = try? Manifest.plan(json, file: "manifest.json", baseDir: scratch, options: options)
    }

    static func decoders(_ data: [UInt8]) {
        guard data.count >= 8 else { return }
        var declared = 0
        for i in 0..<8 { declared |= Int(data[i]) << (8 * i) }
        let body = Array(data[8...])
        let limit = 4 << 20   // low, so that a claimed size above it is exercised cheaply
        let size: Int? = declared > 0 && declared <= limit ? declared : nil
        body.withByteReader { r in
            if let out = try? (size.map { try Inflater().gunzip(r, exactSize: $0) } ?? Inflater().gunzip(r, limit: limit)) {
                precondition(out.count <= limit && (size == nil || out.count == size), "gzip output size")
            }
            if let out = try? Zstd.decompress(r, size: size, limit: limit) {
                precondition(out.count <= limit && (size == nil || out.count == size), "zstd output size")
            }
            if let index = try? ChunkedGzip.index(r) {
                let maxStored = index.chunks.map(\.length).max() ?? 0
                guard index.decodedSize <= limit, maxStored <= limit, index.chunkSize <= limit else { return }
                let d = ChunkedGzip.Decoder(maxStoredChunk: maxStored, chunkSize: index.chunkSize)
                for (k, c) in index.chunks.enumerated() {
                    guard (try? d.load(r, c, isLast: k == index.chunks.count - 1, verify: true)) != nil else { break }
                    _ = try? d.decode()
                }
            }
            if let gz = try? GzipStream(r) {
                var buf = [UInt8](repeating: 0, count: 1 << 16)
                while let n = try? buf.withUnsafeMutableBytes({ (o) throws(CodecError) -> Int in try gz.read(into: o) }), n > 0 {
                    if gz.produced > limit { break }
                }
            }
        }
    }

    static func tar(_ data: [UInt8]) {
        let sandbox = scratch + "/tar"
        let root = sandbox + "/root"
        _ = try? FS.removeTree(sandbox)
        guard (try? FS.mkdirs(sandbox, 0o700)) != nil else { return }
        if let w = try? TreeWriter(root: root, backend: .posix, fileCreationMask: settings.fileCreationMask) {
            data.withByteReader { r in _ = try? w.extractTar(r, what: "fuzz"); _ = try? w.finish() }
        }
        // The property: the root is the only thing in the sandbox, and nothing under it is a
        // symlink that leads out of it or a special file.
        let outside = (try? FS.listDirectory(sandbox)) ?? []
        precondition(outside.allSatisfy { $0 == "root" }, "written outside the extraction root: \(outside)")
        checkInside(root, rel: "")
        _ = try? FS.removeTree(sandbox)
    }

    static func checkInside(_ root: String, rel: String) {
        guard let names = try? FS.listDirectory(rel.isEmpty ? root : root + "/" + rel) else { return }
        for n in names {
            let r = rel.isEmpty ? n : rel + "/" + n
            guard let st = try? FS.lstat(root + "/" + r) else { continue }
            switch st.mode & 0o170000 {
            case 0o040000: checkInside(root, rel: r)
            case 0o100000: break
            case 0o120000:
                let target = (try? FS.readLink(root + "/" + r)) ?? "/"
                precondition(TreeWriter.linkStaysInside(linkPath: r, target: target), "symlink \(r) -> \(target) leads outside the root")
            default: fatalError("special file \(r) (mode \(st.mode)) in the extraction root")
            }
        }
    }
}
