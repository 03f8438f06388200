import FlavorFormat
import FlavorSys

/// The attestation slot (spec §3, §10.1: lifecycle `attestation`, id `_attestation`, stored
/// as-is): `{"provenance": …, "sbom": CycloneDX 1.6}` as compact key-sorted JSON, like upstream's
/// Python builder, so upstream's `flavor inspect --sbom` reads it. Unlike upstream's it is
/// deterministic: the time is SOURCE_DATE_EPOCH's and the serial number is derived from the content.
public enum Attestation {
    public static let slotID = "_attestation"
    public static let specVersion = "1.6"

    /// The attestation slot of a package: the one whose descriptor says lifecycle `attestation`.
    public static func slotIndex(_ pkg: PackageReader) -> Int? {
        pkg.descriptors.firstIndex { $0.lifecycle == Lifecycle.attestation.rawValue }
    }

    /// The parsed attestation document, or why there is none.
    public static func read(_ pkg: PackageReader) throws(EngineError) -> JSONValue {
        guard let i = slotIndex(pkg) else { throw EngineError(.format, "\(pkg.path): no attestation slot (built without SBOM and provenance)") }
        let bytes: ByteReader
        do { bytes = try pkg.slotBytes(i) } catch { throw EngineError(.format, "\(pkg.path): attestation slot \(i): \(error.message)") }
        guard bytes.count <= 64 << 20 else { throw EngineError(.format, "\(pkg.path): attestation slot \(i) is \(bytes.count) bytes (over 64 MiB)") }
        do { return try JSONValue.parse(bytes.toArray()) } catch {
            throw EngineError(.format, "\(pkg.path): attestation slot \(i) is not JSON: \(error)")
        }
    }
}
