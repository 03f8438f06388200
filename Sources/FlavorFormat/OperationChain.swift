/// Codec operation codes used in slot descriptors (spec §6).
public enum Operation: UInt8, Sendable, CaseIterable {
    case tar = 0x01
    case gzip = 0x10
    case zstd = 0x1B

    public var name: String {
        switch self {
        case .tar: return "tar"
        case .gzip: return "gzip"
        case .zstd: return "zstd"
        }
    }
}

/// Up to 8 operation bytes packed into a u64, first-applied in the lowest byte.
public struct OperationChain: Equatable, Sendable {
    public var operations: [Operation]

    public init(_ operations: [Operation]) {
        precondition(operations.count <= 8)
        self.operations = operations
    }

    public static let none = OperationChain([])
    public static let tgz = OperationChain([.tar, .gzip])

    public var packed: UInt64 {
        var v: UInt64 = 0
        for (i, op) in operations.enumerated() { v |= UInt64(op.rawValue) << (8 * UInt64(i)) }
        return v
    }

    public var containsTar: Bool { operations.contains(.tar) }

    /// Decodes a descriptor value. Zero bytes are skipped (as the Rust launcher does); an unknown
    /// non-zero code is an error naming it, since decoding it would write garbage.
    public init(packed: UInt64) throws(FormatError) {
        var ops = [Operation]()
        for i in 0..<8 {
            let byte = UInt8(truncatingIfNeeded: packed >> (8 * UInt64(i)))
            if byte == 0 { continue }
            guard let op = Operation(rawValue: byte) else {
                throw .badOperations("unsupported operation code 0x\(hex(UInt64(byte), width: 2)) in chain 0x\(hex(packed))")
            }
            ops.append(op)
        }
        operations = ops
    }

    /// Parses a manifest `operations` string. Accepts every spelling any upstream builder
    /// accepts (spec §6): "", none, raw, gzip, tar, tgz, tar.gz, tar|gzip, tar,gzip, zstd,
    /// tar.zst, tzst; case-insensitive. Unknown strings are an error (upstream silently stores raw).
    public init(manifest s: String) throws(FormatError) {
        let t = s.lowercased().trimmingSpaces
        switch t {
        case "", "none", "raw": operations = []
        case "tgz", "tar.gz": operations = [.tar, .gzip]
        case "tzst", "tar.zst", "tar.zstd": operations = [.tar, .zstd]
        default:
            var ops = [Operation]()
            for part in t.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "|" || $0 == "," }) {
                switch part.trimmingSpacesSub {
                case "tar": ops.append(.tar)
                case "gzip", "gz": ops.append(.gzip)
                case "zstd", "zst": ops.append(.zstd)
                case "": throw .badOperations("empty operation in \"\(s)\"")
                default: throw .badOperations("unknown operation \"\(part)\" in \"\(s)\" (use none, tar, gzip, tgz, zstd or tar|zstd)")
                }
            }
            guard ops.count <= 8 else { throw .badOperations("more than 8 operations in \"\(s)\"") }
            operations = ops
        }
    }

    /// Canonical manifest spelling, understood by every upstream builder where one exists.
    public var manifestName: String {
        switch operations {
        case []: return "none"
        case [.tar, .gzip]: return "tgz"
        case [.gzip]: return "gzip"
        case [.tar]: return "tar"
        default: return operations.map { $0.name }.joined(separator: "|")
        }
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

extension Substring {
    var trimmingSpacesSub: String { String(self).trimmingSpaces }
}
