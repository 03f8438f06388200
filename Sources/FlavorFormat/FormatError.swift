/// Everything that can be wrong with package, metadata, tar or ELF bytes.
/// Each case names the region and, where it has one, the absolute offset.
public enum FormatError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(region: String, offset: Int, need: Int, have: Int)
    case badMagic(region: String, offset: Int)
    case unsupportedVersion(UInt32)
    case indexChecksum(stored: UInt32, computed: UInt32)
    case outOfBounds(region: String, offset: UInt64, size: UInt64, fileSize: UInt64)
    case slotOutOfBounds(slot: Int, offset: UInt64, size: UInt64, fileSize: UInt64)
    case badOperations(String)
    case json(String, offset: Int)
    case metadata(String)
    case tar(String, offset: Int)
    case elf(String, offset: Int)

    public var description: String {
        switch self {
        case let .truncated(region, offset, need, have):
            return "\(region) truncated at offset \(offset): need \(need) bytes, have \(have)"
        case let .badMagic(region, offset):
            return "\(region): bad magic at offset \(offset) (not a PSPF/2025 package)"
        case let .unsupportedVersion(v):
            return "unsupported format_version 0x\(hex(UInt64(v))) (expected 0x20250001)"
        case let .indexChecksum(stored, computed):
            return "index checksum mismatch: stored 0x\(hex(UInt64(stored), width: 8)), computed 0x\(hex(UInt64(computed), width: 8))"
        case let .outOfBounds(region, offset, size, fileSize):
            return "\(region) lies outside the file (offset \(offset), size \(size), file size \(fileSize))"
        case let .slotOutOfBounds(slot, offset, size, fileSize):
            return "slot \(slot) lies outside the file (offset \(offset), size \(size), file size \(fileSize))"
        case let .badOperations(why): return "operations: \(why)"
        case let .json(why, offset): return "metadata JSON: \(why) at byte \(offset)"
        case let .metadata(why): return "metadata: \(why)"
        case let .tar(why, offset): return "tar: \(why) at offset \(offset)"
        case let .elf(why, offset): return "ELF: \(why) at offset \(offset)"
        }
    }
}

/// Lowercase hex without Foundation.
public func hex(_ value: UInt64, width: Int = 0) -> String {
    // Nibbles by hand: String(_:radix:) is generic over BinaryInteger, and the launcher formats
    // the index checksum on every start.
    var digits = [UInt8]()
    var v = value
    repeat { digits.append(hexDigit(UInt8(truncatingIfNeeded: v & 15))); v >>= 4 } while v != 0
    while digits.count < width { digits.append(UInt8(ascii: "0")) }
    digits.reverse()
    return String(decoding: digits, as: UTF8.self)
}

@inline(__always) func hexDigit(_ n: UInt8) -> UInt8 { n < 10 ? 48 + n : 87 + n }

public func hex<C: Collection>(bytes: C) -> String where C.Element == UInt8 {
    var out = [UInt8](); out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(hexDigit(b >> 4)); out.append(hexDigit(b & 15)) }
    return String(decoding: out, as: UTF8.self)
}

/// Lowercase hex digits of `bytes` appended to `out`, for callers that build one buffer of many
/// (`hex(bytes:)` keeps its own loop: calling this from it adds 2 KB of specialisations to the launcher).
public func appendHex<C: Collection>(_ bytes: C, to out: inout [UInt8]) where C.Element == UInt8 {
    for b in bytes { out.append(hexDigit(b >> 4)); out.append(hexDigit(b & 15)) }
}

/// Parses lowercase or uppercase hex; nil on odd length or a non-hex character.
public func bytes(fromHex s: String) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.count % 2 == 0 else { return nil }
    func nib(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
    var out = [UInt8](); out.reserveCapacity(u.count / 2)
    var i = 0
    while i < u.count {
        guard let h = nib(u[i]), let l = nib(u[i + 1]) else { return nil }
        out.append(h << 4 | l); i += 2
    }
    return out
}
