import Foundation
import FlavorFormat

/// Regions of a package that the tamper tests damage, and the check that must catch each.
enum Tamper: String, CaseIterable, CustomStringConvertible {
    case slotByte, metadataByte, signature, indexByte, forgedSlotAndDescriptor

    var description: String { rawValue }

    /// The verify check that must fail (and be named).
    var failingCheck: String {
        switch self {
        case .slotByte: return "slot-descriptor-checksum"
        case .metadataByte: return "metadata-checksum"
        case .signature, .indexByte: return "index-checksum"
        case .forgedSlotAndDescriptor: return "slot-signed-checksum"
        }
    }

    /// Applies the damage to a copy of `package` at `output`. Slot 0 must be a raw script.
    func apply(_ package: String, _ output: String) throws {
        var b = try readBytes(package)
        let idx = b.count - 8196
        let table = Int(le64(b, idx + 40))
        let slot0 = Int(le64(b, table + 16)), slot0Size = Int(le64(b, table + 24))
        switch self {
        case .slotByte:
            b[slot0 + slot0Size - 2] ^= 0x01
        case .metadataByte:
            b[Int(le64(b, idx + 24)) + Int(le64(b, idx + 32)) / 2] ^= 0x01
        case .signature:
            b[idx + 128 + 5] ^= 0x01
        case .indexByte:
            b[idx + 2000] ^= 0x01
        case .forgedSlotAndDescriptor:
            // Forge the script (keeping its length) and rewrite the unsigned descriptor checksum
            // so that it matches: upstream verifiers accept this (spec §9.6).
            let text = String(decoding: b[slot0..<slot0 + slot0Size], as: UTF8.self)
            let forged = Array(text.replacingOccurrences(of: "echo \"args:", with: "echo \"PWND:").utf8)
            precondition(forged.count == slot0Size && forged != Array(b[slot0..<slot0 + slot0Size]))
            b.replaceSubrange(slot0..<slot0 + slot0Size, with: forged)
            let digest = sha256(forged)
            for i in 0..<8 { b[table + 48 + i] = digest[i] }
        }
        try writeBytes(output, b)
        chmod(output, 0o755)
    }
}

/// SHA-256 through the system's sha256sum (tests must not trust the code under test).
func sha256(_ bytes: [UInt8]) -> [UInt8] {
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    try? writeBytes(tmp, bytes)
    let out = (try? run("/usr/bin/sha256sum", [tmp]).stdout) ?? ""
    return FlavorFormat.bytes(fromHex: String(out.prefix(64))) ?? []
}
