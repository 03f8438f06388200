import FlavorFormat
import FlavorSys

/// A package opened for reading: mapped once, trailer/index/descriptors decoded, nothing else
/// read. Slot bytes are handed out as windows into the mapping (zero copy).
public final class PackageReader: Sendable {
    public let path: String
    public let file: MappedFile
    public let index: PackageIndex
    public let descriptors: [SlotDescriptor]
    /// Absolute offset of the index block.
    public let indexOffset: Int

    public init(path: String) throws(EngineError) {
        self.path = path
        do { file = try MappedFile(path: path) } catch { throw EngineError(.unreadable, "\(path): cannot open: \(error.reason)") }
        let bytes = file.bytes
        do {
            indexOffset = try Trailer.locateIndex(in: bytes)
        } catch {
            throw EngineError(.unreadable, "\(path): not a PSPF/2025 package (\(error))")
        }
        do throws(FormatError) {
            let idx = try PackageIndex(decoding: bytes.slice(indexOffset..<indexOffset + PackageIndex.byteCount, region: "index"))
            index = idx
            guard idx.formatVersion == PackageIndex.formatVersion else { throw FormatError.unsupportedVersion(idx.formatVersion) }
            let fs = UInt64(bytes.count)
            guard idx.slotCount <= 65_536, idx.slotTableSize == UInt64(idx.slotCount) * 64,
                  idx.slotTableSize <= fs, idx.slotTableOffset <= fs &- idx.slotTableSize else {
                throw FormatError.outOfBounds(region: "slot table", offset: idx.slotTableOffset, size: idx.slotTableSize, fileSize: fs)
            }
            guard idx.metadataSize <= fs, idx.metadataOffset <= fs &- idx.metadataSize else {
                throw FormatError.outOfBounds(region: "metadata", offset: idx.metadataOffset, size: idx.metadataSize, fileSize: fs)
            }
            var ds = [SlotDescriptor]()
            ds.reserveCapacity(Int(idx.slotCount))
            let table = Int(idx.slotTableOffset)
            for i in 0..<Int(idx.slotCount) {
                ds.append(try SlotDescriptor(decoding: bytes.slice(table + i * 64..<table + i * 64 + 64, region: "slot descriptor \(i)")))
            }
            descriptors = ds
        } catch {
            throw EngineError.format(path, error)
        }
    }

    public var fileName: String { lastPathComponent(path) ?? path }

    /// The raw index block as stored.
    public var indexBytes: ByteReader {
        // Bounds were checked by Trailer.locateIndex.
        (try? file.bytes.slice(indexOffset..<indexOffset + PackageIndex.byteCount)) ?? file.bytes
    }

    public var compressedMetadata: ByteReader {
        let o = Int(index.metadataOffset)
        return (try? file.bytes.slice(o..<o + Int(index.metadataSize))) ?? file.bytes
    }

    /// Gunzipped metadata JSON bytes (the signed message), capped at Metadata.maxJSONSize.
    public func metadataJSONBytes() throws(EngineError) -> [UInt8] {
        do {
            return try GzipStream.gunzip(compressedMetadata, limit: Metadata.maxJSONSize)
        } catch {
            throw EngineError(.integrity, "\(path): metadata: \(error)")
        }
    }

    public func metadata(jsonBytes: [UInt8], deferSlots: Bool = false, slotsAt known: JSONValue.Deferred? = nil) throws(EngineError) -> Metadata {
        do { return try Metadata(jsonBytes: jsonBytes, deferSlots: deferSlots, slotsAt: known) } catch { throw EngineError.format(path, error) }
    }

    /// Stored bytes of slot `i`, bounds-checked against the file.
    public func slotBytes(_ i: Int) throws(EngineError) -> ByteReader {
        do throws(FormatError) {
            let r = try descriptors[i].dataRange(slot: i, fileSize: file.size)
            return try file.bytes.slice(r, region: "slot \(i)")
        } catch {
            throw EngineError.format(path, error)
        }
    }
}


/// The last non-empty "/"-separated component, as `split(separator: "/").last` gives it, without
/// building an array of Substrings on the launch path.
func lastPathComponent(_ path: String) -> String? {
    var u = path.utf8[...]
    while u.last == UInt8(ascii: "/") { u = u.dropLast() }
    guard !u.isEmpty else { return nil }
    if let slash = u.lastIndex(of: UInt8(ascii: "/")) { u = u[u.index(after: slash)...] }
    return String(Substring(u))
}
