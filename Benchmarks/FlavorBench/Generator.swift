import Foundation
import FlavorTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Deterministic corpus data from SplitMix64: a Zipf-distributed vocabulary assembled into Python-like
/// source, JSON records, prose, and binary blocks (PRNG bytes with zero runs and small tables).
/// The byte stream depends only on the seed and this code (`generatorVersion`).
enum FileKind: String, CaseIterable {
    case source, data, text, binary

    var ext: String {
        switch self {
        case .source: "py"
        case .data: "json"
        case .text: "md"
        case .binary: "bin"
        }
    }
}

struct TextSource {
    var rng: SplitMix64
    /// The vocabulary: 4096 pronounceable words of 2–10 letters.
    let words: [[UInt8]]
    /// 65,536 uniform slots → word index, Zipf (s = 1) distributed. Only +, × and ÷ on doubles
    /// here and in the size draws (correctly rounded in IEEE 754, unlike libm's pow/exp/log), so
    /// every machine computes the same table.
    let zipf: [UInt16]

    init(seed: UInt64) {
        var r = SplitMix64(seed: seed)
        let cons = Array("bcdfghjklmnprstvwxz".utf8), vows = Array("aeiouy".utf8)
        var seen = Set<[UInt8]>()
        var ws = [[UInt8]]()
        while ws.count < 4096 {
            var w = [UInt8]()
            let syl = 1 + r.below(4)
            for _ in 0..<syl {
                w.append(cons[r.below(cons.count)])
                w.append(vows[r.below(vows.count)])
                if r.below(4) == 0 { w.append(cons[r.below(cons.count)]) }
            }
            if seen.insert(w).inserted { ws.append(w) }
        }
        words = ws
        var weights = [Double](repeating: 0, count: ws.count)
        var total = 0.0
        for i in 0..<ws.count { weights[i] = 1.0 / Double(i + 1); total += weights[i] }
        var table = [UInt16](repeating: 0, count: 65536)
        var acc = 0.0, idx = 0
        for slot in 0..<65536 {
            let target = (Double(slot) + 0.5) / 65536.0 * total
            while idx < ws.count - 1 && acc + weights[idx] < target { acc += weights[idx]; idx += 1 }
            table[slot] = UInt16(idx)
        }
        zipf = table
        rng = r
    }

    mutating func word() -> [UInt8] { words[Int(zipf[Int(rng.next() & 0xffff)])] }

    mutating func ident(_ out: inout [UInt8]) {
        out += word()
        if rng.below(3) == 0 { out.append(UInt8(ascii: "_")); out += word() }
    }

    mutating func number(_ out: inout [UInt8]) {
        out += Array(String(rng.below(rng.below(2) == 0 ? 100 : 100_000)).utf8)
    }

    /// Appends Python-like source until `out` holds at least `size` bytes.
    mutating func source(_ out: inout [UInt8], size: Int) {
        var indent = 0
        while out.count < size {
            let pad = [UInt8](repeating: UInt8(ascii: " "), count: indent * 4)
            switch rng.below(10) {
            case 0:
                out += Array("\ndef ".utf8); ident(&out); out.append(UInt8(ascii: "("))
                for i in 0..<rng.below(4) { if i > 0 { out += Array(", ".utf8) }; ident(&out) }
                out += Array("):\n".utf8); indent = 1
            case 1:
                out += Array("\nclass ".utf8); out += capitalised(word()); out += Array("(".utf8)
                out += capitalised(word()); out += Array("):\n".utf8); indent = 1
            case 2:
                out += pad; out += Array("# ".utf8)
                for _ in 0..<(3 + rng.below(9)) { out += word(); out.append(UInt8(ascii: " ")) }
                out.append(UInt8(ascii: "\n"))
            case 3:
                out += pad; out += Array("return ".utf8); ident(&out); out.append(UInt8(ascii: "."))
                ident(&out); out += Array("()\n".utf8); indent = max(0, indent - 1)
            case 4:
                out += pad; out += Array("if ".utf8); ident(&out); out += Array(" > ".utf8); number(&out)
                out += Array(":\n".utf8); indent = min(3, indent + 1)
            case 5:
                out += Array("import ".utf8); ident(&out); out.append(UInt8(ascii: "\n"))
            default:
                out += pad; ident(&out); out += Array(" = ".utf8); ident(&out); out.append(UInt8(ascii: "("))
                number(&out); out += Array(", \"".utf8); out += word(); out += Array("\")\n".utf8)
            }
        }
    }

    /// JSON-like records.
    mutating func data(_ out: inout [UInt8], size: Int) {
        out += Array("[\n".utf8)
        var id = rng.below(1_000_000)
        while out.count < size {
            id += 1 + rng.below(7)
            out += Array("  {\"id\": \(id), \"name\": \"".utf8); out += word(); out.append(UInt8(ascii: " ")); out += word()
            out += Array("\", \"score\": 0.\(rng.below(10000)), \"active\": \(rng.below(2) == 0 ? "true" : "false"), \"tags\": [\"".utf8)
            out += word(); out += Array("\", \"".utf8); out += word(); out += Array("\"]},\n".utf8)
        }
    }

    /// Prose: sentences of 5–20 words, paragraphs of 2–6 sentences.
    mutating func text(_ out: inout [UInt8], size: Int) {
        while out.count < size {
            for _ in 0..<(2 + rng.below(5)) {
                let n = 5 + rng.below(16)
                for i in 0..<n {
                    let w = word()
                    out += i == 0 ? capitalised(w) : w
                    out.append(UInt8(ascii: i == n - 1 ? "." : (rng.below(12) == 0 ? "," : " ")))
                    if i < n - 1, out.last == UInt8(ascii: ",") { out.append(UInt8(ascii: " ")) }
                }
                out.append(UInt8(ascii: " "))
            }
            out += Array("\n\n".utf8)
        }
    }

    /// Machine-code-like bytes: mostly PRNG, with zero runs and small-integer tables.
    mutating func binary(_ out: inout [UInt8], size: Int) {
        while out.count < size {
            let n = 64 + rng.below(960)
            switch rng.below(10) {
            case 0, 1: out += [UInt8](repeating: 0, count: n)
            case 2: for _ in 0..<n { out.append(UInt8(rng.below(16))) }
            default:
                let start = out.count
                out += [UInt8](repeating: 0, count: n)
                out.withUnsafeMutableBytes { rng.fill(UnsafeMutableRawBufferPointer(rebasing: $0[start..<start + n])) }
            }
        }
    }

    func capitalised(_ w: [UInt8]) -> [UInt8] {
        var c = w
        if let f = c.first, f >= 97, f <= 122 { c[0] = f - 32 }
        return c
    }
}

enum Generator {
    static func materialise(_ spec: CorpusDefinition.GenerateSpec, into root: String) throws {
        var src = TextSource(seed: spec.seed)
        for (i, t) in (spec.trees ?? []).enumerated() {
            try tree(t, index: i, into: root, src: &src)
        }
        for b in spec.blobs ?? [] {
            try blob(b, into: root, src: &src)
        }
    }

    static func kinds(_ mix: [String: Double]?) throws -> [(FileKind, Double)] {
        let m = mix ?? ["source": 0.55, "data": 0.2, "text": 0.15, "binary": 0.1]
        var out = [(FileKind, Double)]()
        for k in FileKind.allCases { if let w = m[k.rawValue], w > 0 { out.append((k, w)) } }
        for key in m.keys where FileKind(rawValue: key) == nil {
            throw BenchError("generate.trees.mix: unknown kind '\(key)' (known: source, data, text, binary)")
        }
        guard !out.isEmpty else { throw BenchError("generate.trees.mix: no kind with a positive share") }
        return out
    }

    static func tree(_ t: CorpusDefinition.TreeSpec, index: Int, into root: String, src: inout TextSource) throws {
        guard t.files > 0, t.minSize > 0, t.maxSize >= t.minSize else {
            throw BenchError("generate.trees[\(index)]: need files > 0 and 0 < min_size <= max_size")
        }
        let mix = try kinds(t.mix)
        let total = mix.reduce(0) { $0 + $1.1 }
        let packages = max(1, t.packages ?? 20), modules = max(1, t.modules ?? 10)
        let base = t.dir.map { root + "/" + $0 } ?? root
        var dirNames = [String]()
        for p in 0..<packages {
            let pname = String(format: "pkg%02d_", p) + String(decoding: src.word(), as: UTF8.self)
            for m in 0..<modules {
                let d = pname + "/" + String(format: "mod%02d_", m) + String(decoding: src.word(), as: UTF8.self)
                try makeDirs(base + "/" + d)
                dirNames.append(d)
            }
        }
        var buf = [UInt8]()
        buf.reserveCapacity(t.maxSize + 4096)
        for i in 0..<t.files {
            var u = src.rng.unit() * total
            var kind = mix[mix.count - 1].0
            for (k, w) in mix { if u < w { kind = k; break }; u -= w }
            // Skewed towards small files like real trees: min + (max - min) · u².
            let u2 = src.rng.unit()
            let size = min(t.maxSize, t.minSize + Int(Double(t.maxSize - t.minSize) * u2 * u2))
            buf.removeAll(keepingCapacity: true)
            switch kind {
            case .source: src.source(&buf, size: size)
            case .data: src.data(&buf, size: size)
            case .text: src.text(&buf, size: size)
            case .binary: src.binary(&buf, size: size)
            }
            buf.removeLast(buf.count - size)
            let script = kind == .source && src.rng.below(40) == 0
            let name = String(decoding: src.word(), as: UTF8.self) + "_\(i)." + (script ? "sh" : kind.ext)
            let path = base + "/" + dirNames[i % dirNames.count] + "/" + name
            try writeBytes(path, buf, mode: script ? 0o755 : 0o644)
        }
    }

    static func blob(_ b: CorpusDefinition.BlobSpec, into root: String, src: inout TextSource) throws {
        guard b.size > 0, (0...1).contains(b.textFraction) else {
            throw BenchError("generate.blobs \(b.path): need size > 0 and 0 <= text_fraction <= 1")
        }
        let path = root + "/" + b.path
        try makeDirs((path as NSString).deletingLastPathComponent)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let textBytes = Int(Double(b.size) * b.textFraction)
        let chunk = 1 << 20
        var written = 0
        var buf = [UInt8]()
        buf.reserveCapacity(chunk + 8192)
        while written < textBytes {
            buf.removeAll(keepingCapacity: true)
            src.text(&buf, size: min(chunk, textBytes - written))
            buf.removeLast(buf.count - min(chunk, textBytes - written))
            try writeAll(fd, buf, path)
            written += buf.count
        }
        while written < b.size {
            let n = min(chunk, b.size - written)
            buf = [UInt8](repeating: 0, count: n)
            buf.withUnsafeMutableBytes { src.rng.fill($0) }
            try writeAll(fd, buf, path)
            written += n
        }
    }

    static func writeBytes(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw BenchError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try writeAll(fd, bytes, path)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ path: String) throws {
        try bytes.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = write(fd, p.baseAddress! + off, p.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw BenchError("\(path): write: \(String(cString: strerror(errno)))")
                }
                off += n
            }
        }
    }
}
