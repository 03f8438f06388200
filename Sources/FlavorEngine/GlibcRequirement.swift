import FlavorFormat
import FlavorSys

/// `compatibility.min_glibc`: before a cold extraction, refuse a package whose bundled binaries
/// need a newer glibc than the target system has. The launcher is static, so
/// gnu_get_libc_version() would report the glibc it was built with: the target's libc.so.6 is
/// read instead (its newest GLIBC_ symbol version). Never runs on a warm start.
public enum GlibcRequirement {
    /// Where distributions keep libc.so.6: Debian/Ubuntu multiarch, then Fedora/SUSE/Arch and others.
    public static let libcPaths = [
        "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/lib/libc.so.6",
    ]

    /// The newest GLIBC_ version defined by the first libc among `paths` that has one, and its path.
    public static func systemGlibc(paths: [String], log: (String) -> Void) -> (version: GlibcVersion, path: String)? {
        for p in paths {
            let f: MappedFile
            do { f = try MappedFile(path: p) } catch { continue }   // not there: the next place
            do {
                if let v = try ELF(parsing: f.bytes).newestGlibcDefined { return (v, p) }
                log("\(p) defines no GLIBC_ version")
            } catch {
                log("\(p): \(error)")
            }
        }
        return nil
    }

    /// Throws `.dependency` when the system's glibc is older than `m.minGlibc`; passes when the
    /// package sets none or no libc is found (musl, unusual layouts: the loader will say more).
    public static func check(_ m: Metadata, settings: Settings) throws(EngineError) {
        guard let text = m.minGlibc else { return }
        guard let need = GlibcVersion(text) else {
            throw EngineError(.config, "compatibility.min_glibc \"\(text)\" is not a glibc version such as \"2.34\"")
        }
        let debug = { (s: String) in Launch.log(settings, "debug", s) }
        guard let found = systemGlibc(paths: settings.libcPaths ?? libcPaths, log: debug) else {
            debug("no libc.so.6 found: not checking min_glibc \(need)")
            return
        }
        guard found.version >= need else {
            throw EngineError(.dependency, "this package needs glibc \(need) or newer; this system has glibc \(found.version) (\(found.path))")
        }
        debug("glibc \(found.version) (\(found.path)) meets min_glibc \(need)")
    }
}
