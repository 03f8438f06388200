import FlavorFormat
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

/// The launcher's record that one package's Ed25519 signature was verified, kept in its workenv
/// (`instance/signature.verified`) so that a warm start does not verify it again: the signature
/// check is half of a warm start's instructions (docs/PERFORMANCE.md, "Warm start, round two").
///
/// The key is SHA-256 over exactly what the check reads: the public key, the signature, and the
/// SHA-256 of the compressed metadata bytes as they are in the file now (computed on every start,
/// whatever the index claims). Any change to any of them is a different key, so a changed package
/// is verified in full. The record adds no trust beyond the workenv's own: whoever can write it
/// can already change the extracted files that a warm start runs without re-hashing them.
///
/// Beside it, under the same key, `instance/metadata.memo` keeps the metadata JSON that the
/// verified start gunzipped and where its slot list is, so that later warm starts neither gunzip
/// nor scan it (for a 16-slot package about half of what was left of a warm start's own work).
/// It is written only after every header check passed, and it stands for the signature record too.
public struct SignatureMemo: Sendable {
    public let path: String
    public let metadataPath: String
    public let key: [UInt8]

    public init(paths: WorkenvPaths, publicKey: [UInt8], signature: [UInt8], metadataDigest: [UInt8]) {
        path = paths.instanceDir + "/signature.verified"
        metadataPath = paths.instanceDir + "/metadata.memo"
        var h = SHA256()
        h.update(Array("flavor signature memo v1\n".utf8))
        h.update(publicKey)
        h.update(signature)
        h.update(metadataDigest)
        key = h.finalize()
    }

    /// True when the file holds this key (64 lowercase hex digits).
    public func holds() -> Bool {
        guard let stored = FS.readSmallFile(path, limit: 64), stored.count == 64 else { return false }
        return stored.elementsEqual(hex(bytes: key).utf8)
    }

    /// Writes the key, when the workenv's instance directory exists (after the first extraction).
    /// Best effort and not fsynced: a lost or torn record only means the next start verifies again.
    public func record() {
        Self.publish(path, Array(hex(bytes: key).utf8))
    }

    /// The memo's first line: what it is, the key, then the slot list's start and end, its element
    /// count and the JSON's length, each as 8 hex digits; the JSON follows.
    static let metadataMagic = "flavor metadata memo v1 "

    /// The first line up to the numbers: the same for every memo of this key.
    func metadataHead() -> [UInt8] {
        var out = Array(Self.metadataMagic.utf8)
        appendHex(key, to: &out)
        return out
    }

    /// The JSON and slot-list position recorded under this key, or nil (absent, another key, torn).
    public func metadata() -> (json: [UInt8], slots: JSONValue.Deferred)? {
        let head = metadataHead()
        let line = head.count + 4 * 9 + 1
        guard let (first, json) = FS.readSizedFile(metadataPath, limit: line + Metadata.maxJSONSize, head: line),
              Array(first[0..<head.count]) == head, first[line - 1] == UInt8(ascii: "\n") else { return nil }
        var numbers = [Int]()
        var at = head.count
        for _ in 0..<4 {
            guard first[at] == UInt8(ascii: " ") else { return nil }
            var n = 0
            for c in first[at + 1..<at + 9] {
                switch c {
                case 0x30...0x39: n = n << 4 | Int(c - 0x30)
                case 0x61...0x66: n = n << 4 | Int(c - 0x57)
                default: return nil
                }
            }
            numbers.append(n)
            at += 9
        }
        guard numbers[3] == json.count, numbers[0] < numbers[1], numbers[1] <= json.count else { return nil }
        return (json, JSONValue.Deferred(range: numbers[0]..<numbers[1], elements: numbers[2]))
    }

    /// Records `json` (verified under this key) and where its slot list is; best effort, like `record`.
    public func recordMetadata(json: [UInt8], slots: JSONValue.Deferred) {
        guard json.count <= Metadata.maxJSONSize else { return }
        var out = metadataHead()
        for n in [slots.range.lowerBound, slots.range.upperBound, slots.elements, json.count] {
            out.append(UInt8(ascii: " "))
            appendHex([UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)], to: &out)
        }
        out.append(UInt8(ascii: "\n"))
        Self.publish(metadataPath, out + json)
    }

    /// Through a temporary name and rename, so a reader sees the whole file or none.
    static func publish(_ path: String, _ bytes: [UInt8]) {
        let tmp = path + ".tmp-\(Process.id)"
        let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let ok = (try? FS.writeAll(fd, bytes, path: tmp)) != nil
        if Glibc.close(fd) == 0 && ok && Glibc.rename(tmp, path) == 0 { return }
        _ = Glibc.unlink(tmp)
    }
}
