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
public struct SignatureMemo: Sendable {
    public let path: String
    public let key: [UInt8]

    public init(paths: WorkenvPaths, publicKey: [UInt8], signature: [UInt8], metadataDigest: [UInt8]) {
        path = paths.instanceDir + "/signature.verified"
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
        let tmp = path + ".tmp-\(Process.id)"
        let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let ok = (try? FS.writeAll(fd, Array(hex(bytes: key).utf8), path: tmp)) != nil
        if Glibc.close(fd) == 0 && ok && Glibc.rename(tmp, path) == 0 { return }
        _ = Glibc.unlink(tmp)
    }
}
