import FlavorFormat
import FlavorSys

/// One error type for the engine: what kind of failure (drives exit codes) and a one-line
/// message that names the file, the check or slot, and the reason.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case unreadable      // cannot open / not a package at all
        case format          // structurally broken package
        case integrity       // a checksum or signature check failed
        case extraction      // decoding or writing a slot failed, tar member outside the root
        case io              // disk / filesystem failure
        case config          // bad manifest, key, flag or environment
        case execution       // cannot run the payload / setup command failed
        case dependency      // the system lacks what the package needs (glibc too old)
        case policy          // the operator's or the package's policy refuses this launch
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind; self.message = message
    }

    public var description: String { message }

    static func format(_ path: String, _ e: FormatError) -> EngineError {
        EngineError(.format, "\(path): \(e)")
    }

    static func sys(_ e: SysError, _ kind: Kind = .io) -> EngineError {
        EngineError(kind, e.description)
    }
}

extension FS {
    /// mkdir -p that reports as an EngineError.
    static func mkdirsOrThrow(_ path: String, _ mode: UInt32 = 0o700) throws(EngineError) {
        do { try mkdirs(path, mode) } catch { throw .sys(error) }
    }
}
