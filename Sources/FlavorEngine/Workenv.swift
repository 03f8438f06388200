import FlavorFormat
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

/// Paths of one package's workenv, laid out as upstream launchers do (spec §9.3), so upstream
/// `flavor workenv` tooling and our CLI see the same cache.
public struct WorkenvPaths: Sendable {
    public var cacheRoot: String
    public var name: String

    public init(cacheRoot: String, packageFileName: String) {
        self.cacheRoot = cacheRoot
        // On UTF-8 bytes: Character-based suffix and removeLast walk grapheme boundaries (every launch).
        let u = Array(packageFileName.utf8)
        func ends(_ s: StaticString) -> Bool {
            u.count >= s.utf8CodeUnitCount && s.withUTF8Buffer { u[(u.count - $0.count)...].elementsEqual($0) }
        }
        let cut = ends(".psp") ? 4 : ends(".pspf") ? 5 : 0
        name = cut == 0 ? packageFileName : String(decoding: u[..<(u.count - cut)], as: UTF8.self)
    }

    public var workenv: String { cacheRoot + "/workenv/" + name }
    public var metaDir: String { cacheRoot + "/workenv/." + name + ".pspf" }
    public var instanceDir: String { metaDir + "/instance" }
    public var extractDir: String { instanceDir + "/extract" }
    public var lockFile: String { extractDir + "/lock" }
    public var completeMarker: String { extractDir + "/complete" }
    public var checksumFile: String { instanceDir + "/package.checksum" }
    public var indexJSON: String { instanceDir + "/index.json" }
    public var slotsDir: String { instanceDir + "/slots" }
    public var tmpDir: String { metaDir + "/tmp" }
    public var metadataJSON: String { metaDir + "/package/psp.json" }

    /// Marker that a lazily extracted slot is in place.
    public func slotMarker(_ i: Int) -> String { slotsDir + "/\(i).ready" }
}

/// Warm-start check and the extraction protocol: lock, check again, stage, publish, mark.
public enum Workenv {
    /// Valid iff `complete` exists, `package.checksum` holds this index checksum and the
    /// cache_validation file matches. O(1): reads two tiny files, never slot bytes.
    public static func isValid(_ p: WorkenvPaths, indexChecksum: UInt32, metadata: Metadata) -> Bool {
        guard FS.exists(p.completeMarker), FS.isDirectory(p.workenv),
              let stored = FS.readSmallFile(p.checksumFile, limit: 64),
              String(decoding: stored, as: UTF8.self).trimmingWhitespace == hex(UInt64(indexChecksum), width: 8) else { return false }
        if let cv = metadata.cacheValidation {
            let file = Placeholders.expand(cv.checkFile, workenv: p.workenv, metadata: metadata)
            guard let content = try? FS.readFile(file, limit: 1 << 20) else { return false }
            if String(decoding: content, as: UTF8.self).trimmingWhitespace != cv.expectedContent.trimmingWhitespace { return false }
        }
        return true
    }

    /// Slots extracted at launch: everything but `lazy` (unless FLAVOR_EAGER) and `dev` (unless
    /// FLAVOR_INCLUDE_DEV) and the attestation.
    public static func eagerSlots(_ m: Metadata, settings: Settings) -> [Int] {
        m.slots.indices.filter { i in
            switch m.slots[i].lifecycleValue {
            case .lazy: return settings.eagerAll
            case .dev: return settings.includeDevSlots
            case .attestation: return false   // read from the package (flavor inspect --sbom), never needed in the workenv
            default: return true
            }
        }
    }

    /// Makes the workenv ready (extracting under the lock if needed). Returns true when this
    /// call extracted.
    @discardableResult
    public static func prepare(_ pkg: PackageReader, _ m: Metadata, _ p: WorkenvPaths, settings: Settings,
                               log: @escaping @Sendable (String) -> Void) throws(EngineError) -> Bool {
        if settings.workenvCache && isValid(p, indexChecksum: pkg.index.indexChecksum, metadata: m) {
            try makeDirectories(m, p)
            if settings.eagerAll { try ensureLazySlots(pkg, m, p, settings: settings, log: log) }
            return false
        }
        // Cold: refuse before anything is written if this system's glibc is too old.
        try GlibcRequirement.check(m, settings: settings)
        do { try FS.mkdirs(p.extractDir, 0o700) } catch { throw .sys(error) }
        let lock: FileLock
        do { lock = try FileLock(path: p.lockFile) } catch { throw .sys(error) }
        defer { withExtendedLifetime(lock) {} }
        // Another launch may have finished while we waited.
        if settings.workenvCache && isValid(p, indexChecksum: pkg.index.indexChecksum, metadata: m) {
            try makeDirectories(m, p)
            return false
        }
        try extractLocked(pkg, m, p, settings: settings, log: log)
        return true
    }

    static func extractLocked(_ pkg: PackageReader, _ metadata: Metadata, _ p: WorkenvPaths, settings: Settings,
                              log: @escaping @Sendable (String) -> Void) throws(EngineError) {
        // The slot list is what extraction acts on (the launcher defers it): a malformed entry stops it here.
        let m: Metadata
        do { m = try metadata.resolvingSlots() } catch { throw EngineError.format(pkg.path, error) }
        // Nothing may trust the old state from here on; a crash now means "re-extract".
        _ = Glibc.unlink(p.completeMarker)
        do {
            try FS.removeTree(p.tmpDir)      // leftovers of killed launches (we hold the lock)
            try FS.removeTree(p.slotsDir)
            try FS.mkdirs(p.tmpDir, 0o700)
        } catch { throw .sys(error) }
        let staging = p.tmpDir + "/\(Process.id)"
        let slots = eagerSlots(m, settings: settings)
        let lenient = settings.validation == .relaxed || settings.validation == .minimal
        let level = settings.validation.rawValue
        log("extracting \(slots.count) slots")
        try FS.mkdirsOrThrow(staging)
        do throws(EngineError) {
            _ = try Extractor.extractParallel(pkg, slots: slots, metadata: m, root: staging,
                                              verify: settings.validation != .none,
                                              settings: settings, backend: WriteBackend.resolve(settings),
                                              onVerifyFailure: { e in
                                                  if lenient { Process.printError("flavor-launcher: warning: \(e.message) (continuing: FLAVOR_VALIDATION=\(level))") }
                                                  return lenient
                                              })
        } catch {
            // Nothing half-extracted stays behind (a SIGKILL's leftovers go at the next extraction).
            try? FS.removeTree(staging)
            throw error
        }
        // Publish: the old tree moves aside, staging takes its name, the old tree goes.
        let old = p.tmpDir + "/old-\(Process.id)"
        do {
            try FS.mkdirs(p.cacheRoot + "/workenv", 0o700)
            if FS.exists(p.workenv) { try FS.rename(p.workenv, old) }
            try FS.rename(staging, p.workenv)
            try FS.chmod(p.workenv, 0o700)
            try FS.removeTree(old)
            try FS.mkdirs(p.slotsDir, 0o700)
            for i in slots { try FS.writeFileAtomically(p.slotMarker(i), [], mode: 0o600) }
        } catch { throw .sys(error) }
        try makeDirectories(m, p)
        try SetupCommands.run(m, workenv: p.workenv, environment: settings.environment, log: log)
        fixShebangs(p.workenv + "/bin", staging: staging, final: p.workenv)
        for i in slots where m.slots[i].lifecycleValue == .initialization {
            let rel = m.slots[i].relativeTarget
            if let safe = TreeWriter.safeRelative(rel) { try? FS.removeTree(p.workenv + "/" + safe) }
        }
        do {
            try FS.mkdirs(p.metaDir + "/package", 0o700)
            try FS.writeFileAtomically(p.metadataJSON, m.json.serialized(pretty: true), mode: 0o600)
            try FS.writeFileAtomically(p.indexJSON, indexSummary(pkg), mode: 0o600)
            try FS.writeFileAtomically(p.checksumFile, Array(hex(UInt64(pkg.index.indexChecksum), width: 8).utf8), mode: 0o600)
            // Last: the marker that makes this workenv trusted.
            try FS.writeFileAtomically(p.completeMarker, Array("\(Process.id)\n".utf8), mode: 0o600)
        } catch { throw .sys(error) }
    }

    /// The slot and the shards it was cut into at pack time (`<id>.part<k>`).
    public static func shardGroup(_ m: Metadata, _ i: Int) -> [Int] {
        var base = m.slots[i].id
        if let dot = base.lastIndex(of: "."), base[base.index(after: dot)...].hasPrefix("part"),
           Int(base[base.index(dot, offsetBy: 5)...]) != nil {
            base = String(base[..<dot])
        }
        return m.slots.indices.filter { j in
            let id = m.slots[j].id
            guard id == base || id.hasPrefix(base + ".part") else { return false }
            return id == base || Int(id.dropFirst(base.count + 5)) != nil
        }
    }

    /// Extracts one slot (and its shards) on demand, for lazy slots: under the lock, verified
    /// before a byte is written, published into the workenv. O(1) when already present.
    /// Returns the slot's path in the workenv.
    public static func ensure(_ pkg: PackageReader, _ metadata: Metadata, _ p: WorkenvPaths, slot i: Int, settings: Settings,
                              log: @escaping @Sendable (String) -> Void) throws(EngineError) -> String {
        let m: Metadata
        do { m = try metadata.resolvingSlots() } catch { throw EngineError.format(pkg.path, error) }
        guard i >= 0, i < m.slots.count else { throw EngineError(.config, "\(pkg.path): no slot \(i)") }
        let target = TreeWriter.safeRelative(m.slots[i].relativeTarget).map { p.workenv + "/" + $0 } ?? p.workenv
        let group = shardGroup(m, i)
        func present() -> Bool { group.allSatisfy { FS.exists(p.slotMarker($0)) } }
        if present() && isValid(p, indexChecksum: pkg.index.indexChecksum, metadata: m) { return target }
        try prepare(pkg, m, p, settings: settings, log: log)
        if present() { return target }
        let lock: FileLock
        do { lock = try FileLock(path: p.lockFile) } catch { throw .sys(error) }
        defer { withExtendedLifetime(lock) {} }
        if present() { return target }
        let staging = p.tmpDir + "/ensure-\(Process.id)"
        try? FS.removeTree(staging)
        try FS.mkdirsOrThrow(staging)
        let missing = group.filter { !FS.exists(p.slotMarker($0)) }
        log("extracting lazy slot \(i) (\(m.slots[i].id)\(missing.count > 1 ? ", \(missing.count) parts" : ""))")
        do throws(EngineError) {
            _ = try Extractor.extractParallel(pkg, slots: missing, metadata: m, root: staging, verify: true,
                                              settings: settings, backend: WriteBackend.resolve(settings))
        } catch {
            try? FS.removeTree(staging)
            throw error
        }
        do {
            try publishEntries(from: staging, into: p.workenv)
            try FS.removeTree(staging)
            try FS.mkdirs(p.slotsDir, 0o700)
            for j in missing { try FS.writeFileAtomically(p.slotMarker(j), [], mode: 0o600) }
        } catch { throw .sys(error) }
        return target
    }

    /// FLAVOR_EAGER=1 on a workenv made without it: the lazy slots not yet present, now.
    static func ensureLazySlots(_ pkg: PackageReader, _ metadata: Metadata, _ p: WorkenvPaths, settings: Settings,
                                log: @escaping @Sendable (String) -> Void) throws(EngineError) {
        let m: Metadata
        do { m = try metadata.resolvingSlots() } catch { throw EngineError.format(pkg.path, error) }
        var once = settings
        once.eagerAll = false   // ensure prepares the workenv first: no second round from there
        for i in m.slots.indices where m.slots[i].lifecycleValue == .lazy && !FS.exists(p.slotMarker(i)) {
            _ = try ensure(pkg, m, p, slot: i, settings: once, log: log)
        }
    }

    /// Moves each top-level entry of `src` into `dst`, merging directories by renaming leaves.
    static func publishEntries(from src: String, into dst: String) throws(SysError) {
        for name in try FS.listDirectory(src) {
            let s = src + "/" + name, d = dst + "/" + name
            let sst = try FS.lstat(s)
            if sst.isDirectory, FS.isDirectory(d), !(try FS.lstat(d)).isSymlink {
                try publishEntries(from: s, into: d)
            } else {
                if FS.exists(d) { try FS.removeTree(d) }
                try FS.rename(s, d)
            }
        }
    }

    static func makeDirectories(_ m: Metadata, _ p: WorkenvPaths) throws(EngineError) {
        for (path, mode) in m.workenvDirectories {
            let expanded = Placeholders.expand(path, workenv: p.workenv, metadata: m)
            let full = expanded.hasPrefix("/") ? expanded : p.workenv + "/" + expanded
            do { try FS.mkdirs(full, mode ?? 0o700) } catch { throw .sys(error) }
        }
    }

    /// Rewrites `#!` lines in bin/ that still name the staging directory.
    static func fixShebangs(_ bin: String, staging: String, final: String) {
        guard let names = try? FS.listDirectory(bin) else { return }
        for n in names {
            let f = bin + "/" + n
            guard let st = try? FS.lstat(f), st.isRegular, st.size < 1 << 20,
                  let bytes = try? FS.readFile(f, limit: 1 << 20), bytes.starts(with: [0x23, 0x21]) else { continue }
            let end = bytes.firstIndex(of: 0x0a) ?? bytes.count
            let first = String(decoding: bytes[0..<end], as: UTF8.self)
            guard Substring(first).range(of: staging) != nil else { continue }
            let fixed = Array(first.replacingAll(staging, with: final).utf8) + bytes[end...]
            try? FS.writeFileAtomically(f, fixed, mode: st.permissions)
        }
    }

    static func indexSummary(_ pkg: PackageReader) -> [UInt8] {
        let i = pkg.index
        return JSONValue.object([
            ("format_version", .string("0x" + hex(UInt64(i.formatVersion), width: 8))),
            ("package_size", .int(Int64(i.packageSize))), ("launcher_size", .int(Int64(i.launcherSize))),
            ("metadata_offset", .int(Int64(i.metadataOffset))), ("metadata_size", .int(Int64(i.metadataSize))),
            ("slot_table_offset", .int(Int64(i.slotTableOffset))), ("slot_count", .int(Int64(i.slotCount))),
            ("index_checksum", .string(hex(UInt64(i.indexChecksum), width: 8))),
            ("metadata_checksum", .string(hex(bytes: i.metadataChecksum))),
            ("capabilities", .int(Int64(bitPattern: i.capabilities))),
        ]).serialized(pretty: true)
    }
}

extension String {
    var trimmingWhitespace: String {
        // Bytes, not Characters: runs on every launch (package.checksum).
        func space(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
        let u = Array(utf8)
        var lo = 0, hi = u.count
        while lo < hi && space(u[lo]) { lo += 1 }
        while hi > lo && space(u[hi - 1]) { hi -= 1 }
        return lo == 0 && hi == u.count ? self : String(decoding: u[lo..<hi], as: UTF8.self)
    }

    /// Replaces every occurrence of `needle` (no Foundation).
    func replacingAll(_ needle: String, with replacement: String) -> String {
        guard !needle.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: needle) {
            out += rest[..<r.lowerBound]; out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    /// First range of `needle` (byte-wise on Characters; no Foundation).
    func range(of needle: String) -> Range<Substring.Index>? {
        let n = needle.count
        guard n > 0, count >= n else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: n) }
            i = index(after: i)
        }
        return nil
    }
}
