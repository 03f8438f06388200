import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The write floor: N threads copying the already-decompressed tree (open/read/write/close per file,
/// directories made first, parents before children). Whatever an extractor does, it still has to create
/// these files and write these bytes; this is that cost with no decompression, hashing or tar parsing.
/// The file list comes from the harness (untimed), so the floor does not pay for a directory walk either.
enum CopyFloor {
    /// NUL-separated records: `d NUL mode NUL path NUL`, `f NUL mode NUL size NUL path NUL`,
    /// `l NUL target NUL path NUL`; paths sorted, so parents come first.
    static func writeList(_ s: TreeSummary, to path: String) throws {
        var out = [UInt8]()
        for e in s.entries {
            switch e.kind {
            case .dir: out += Array("d\0\(e.mode)\0\(e.path)\0".utf8)
            case .file: out += Array("f\0\(e.mode)\0\(e.size)\0\(e.path)\0".utf8)
            case .symlink: out += Array("l\0\(e.linkTarget ?? "")\0\(e.path)\0".utf8)
            }
        }
        do { try Data(out).write(to: URL(fileURLWithPath: path)) }
        catch { throw BenchError("\(path): cannot write the copy list: \(error.localizedDescription)") }
    }

    struct FileJob: Sendable { var path: String; var mode: mode_t; var size: Int }

    /// `flavor-bench copy-floor --list LIST [--threads N] SRC DST`.
    static func run(list: String, src: String, dst: String, threads: Int) throws {
        guard let data = FileManager.default.contents(atPath: list) else { throw BenchError("\(list): cannot read") }
        let fields = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        var dirs = [(String, mode_t)](), files = [FileJob](), links = [(String, String)]()
        var i = 0
        while i < fields.count - 1 {
            switch fields[i] {
            case "d": dirs.append((fields[i + 2], mode_t(fields[i + 1]) ?? 0o755)); i += 3
            case "f": files.append(FileJob(path: fields[i + 3], mode: mode_t(fields[i + 1]) ?? 0o644, size: Int(fields[i + 2]) ?? 0)); i += 4
            case "l": links.append((fields[i + 2], fields[i + 1])); i += 3
            default: throw BenchError("\(list): malformed copy list at field \(i)")
            }
        }
        guard mkdir(dst, 0o755) == 0 || errno == EEXIST else { throw BenchError("\(dst): mkdir: \(String(cString: strerror(errno)))") }
        for (p, m) in dirs {
            guard mkdir(dst + "/" + p, m) == 0 else { throw BenchError("\(dst)/\(p): mkdir: \(String(cString: strerror(errno)))") }
        }
        for (p, target) in links {
            guard symlink(target, dst + "/" + p) == 0 else { throw BenchError("\(dst)/\(p): symlink: \(String(cString: strerror(errno)))") }
        }
        let n = max(1, threads)
        let failures = Failures()
        let jobs = files
        DispatchQueue.concurrentPerform(iterations: n) { t in
            let buf = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
            defer { buf.deallocate() }
            var k = t
            while k < jobs.count {
                if let e = copyOne(jobs[k], src: src, dst: dst, buf: buf, cap: 1 << 20) { failures.add(e); return }
                k += n
            }
        }
        if let first = failures.first { throw BenchError(first) }
    }

    /// Copies one file; returns an error message or nil.
    static func copyOne(_ f: FileJob, src: String, dst: String, buf: UnsafeMutableRawPointer, cap: Int) -> String? {
        let s = open(src + "/" + f.path, O_RDONLY | O_CLOEXEC)
        guard s >= 0 else { return "\(src)/\(f.path): open: \(String(cString: strerror(errno)))" }
        defer { close(s) }
        let d = open(dst + "/" + f.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, f.mode)
        guard d >= 0 else { return "\(dst)/\(f.path): open: \(String(cString: strerror(errno)))" }
        while true {
            let n = read(s, buf, cap)
            if n < 0 { if errno == EINTR { continue }; close(d); return "\(src)/\(f.path): read: \(String(cString: strerror(errno)))" }
            if n == 0 { break }
            var off = 0
            while off < n {
                let w = write(d, buf + off, n - off)
                if w < 0 { if errno == EINTR { continue }; close(d); return "\(dst)/\(f.path): write: \(String(cString: strerror(errno)))" }
                off += w
            }
        }
        guard close(d) == 0 else { return "\(dst)/\(f.path): close: \(String(cString: strerror(errno)))" }
        return nil
    }
}

/// Error messages collected from worker threads.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages = [String]()

    func add(_ m: String) { lock.lock(); messages.append(m); lock.unlock() }
    var first: String? { lock.lock(); defer { lock.unlock() }; return messages.first }
}
