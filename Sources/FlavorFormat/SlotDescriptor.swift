/// One 64-byte entry of the slot table (spec §5). Not covered by the signature.
public struct SlotDescriptor: Equatable, Sendable {
    public static let byteCount = 64

    public var id: UInt64 = 0
    public var nameHash: UInt64 = 0
    public var offset: UInt64 = 0
    public var size: UInt64 = 0
    public var originalSize: UInt64 = 0
    public var operations: UInt64 = 0
    /// First 8 bytes of SHA-256(stored bytes), read as little-endian.
    public var checksum: UInt64 = 0
    public var purpose: UInt8 = 0
    public var lifecycle: UInt8 = Lifecycle.runtime.rawValue
    public var priority: UInt8 = 1
    public var platform: UInt8 = 0
    public var reserved1: UInt8 = 0
    public var reserved2: UInt8 = 0
    public var permissions: UInt16 = 0

    public init() {}

    public init(decoding r: ByteReader) throws(FormatError) {
        id = try r.u64(at: 0)
        nameHash = try r.u64(at: 8)
        offset = try r.u64(at: 16)
        size = try r.u64(at: 24)
        originalSize = try r.u64(at: 32)
        operations = try r.u64(at: 40)
        checksum = try r.u64(at: 48)
        purpose = try r.u8(at: 56)
        lifecycle = try r.u8(at: 57)
        priority = try r.u8(at: 58)
        platform = try r.u8(at: 59)
        reserved1 = try r.u8(at: 60)
        reserved2 = try r.u8(at: 61)
        permissions = UInt16(try r.u8(at: 62)) | UInt16(try r.u8(at: 63)) << 8
    }

    public func encoded() -> [UInt8] {
        var b = [UInt8](); b.reserveCapacity(Self.byteCount)
        b.appendLE(id); b.appendLE(nameHash); b.appendLE(offset); b.appendLE(size)
        b.appendLE(originalSize); b.appendLE(operations); b.appendLE(checksum)
        b += [purpose, lifecycle, priority, platform, reserved1, reserved2,
              UInt8(permissions & 0xff), UInt8(permissions >> 8)]
        return b
    }

    /// The u64 a descriptor stores for a SHA-256 digest: its first 8 bytes, little-endian.
    public static func checksumPrefix(_ digest: [UInt8]) -> UInt64 {
        precondition(digest.count >= 8)
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(digest[i]) }
        return v
    }

    /// Checked byte range of the stored data inside a file of `fileSize` bytes.
    public func dataRange(slot: Int, fileSize: Int) throws(FormatError) -> Range<Int> {
        let fs = UInt64(fileSize)
        guard size <= fs, offset <= fs &- size else {
            throw .slotOutOfBounds(slot: slot, offset: offset, size: size, fileSize: fs)
        }
        return Int(offset)..<Int(offset + size)
    }
}

/// Slot lifecycle byte (spec §5). Unknown strings map to `runtime`, like the Rust builder.
public enum Lifecycle: UInt8, Sendable, CaseIterable {
    case initialization = 0, startup, runtime, shutdown, cache, temporary, lazy, eager, dev, config, platform, attestation

    public var name: String {
        switch self {
        case .initialization: return "init"
        case .startup: return "startup"
        case .runtime: return "runtime"
        case .shutdown: return "shutdown"
        case .cache: return "cache"
        case .temporary: return "temporary"
        case .lazy: return "lazy"
        case .eager: return "eager"
        case .dev: return "dev"
        case .config: return "config"
        case .platform: return "platform"
        case .attestation: return "attestation"
        }
    }

    public init(manifestName s: String) {
        switch s.lowercased() {
        case "init", "initialization": self = .initialization
        case "startup": self = .startup
        case "shutdown": self = .shutdown
        case "cache", "cached": self = .cache
        case "temporary": self = .temporary
        case "lazy": self = .lazy
        case "eager": self = .eager
        case "dev", "development": self = .dev
        case "config": self = .config
        case "platform": self = .platform
        case "attestation": self = .attestation
        default: self = .runtime
        }
    }
}

/// Purpose byte as the Rust/Go builders write it (spec §5); nothing reads it.
public func purposeByte(_ s: String) -> UInt8 {
    switch s {
    case "runtime": return 1
    case "tool": return 2
    default: return 0
    }
}
