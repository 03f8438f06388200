/// What the dynamic loader reads from an ELF64 little-endian file: DT_NEEDED, the search paths,
/// DT_SONAME, PT_INTERP and the GNU symbol versions. The packer uses it on bundled binaries (the
/// newest GLIBC_ version they need) and the launcher on the target's libc, before a cold start.
///
/// The dynamic table comes from PT_DYNAMIC and its addresses are mapped to file offsets through
/// PT_LOAD, as ld.so does, so a file whose section headers were stripped still reads. A file
/// without program headers falls back to its sections (SHT_DYNAMIC; SHT_GNU_verneed/verdef are
/// then found by address). Every offset, size and count comes from the file, so each is checked
/// before use: bad bytes throw `FormatError`, never trap.
public struct ELF: Sendable {
    public static let magic: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]

    /// e_type: 2 executable, 3 shared object (or PIE).
    public var type: UInt16
    /// e_machine: 62 is x86-64.
    public var machine: UInt16
    /// DT_NEEDED, in file order.
    public var needed: [String] = []
    /// DT_RUNPATH and DT_RPATH split on ':' as ld.so does (an empty entry is kept as "").
    public var runpath: [String] = []
    public var rpath: [String] = []
    public var soname: String? = nil
    /// PT_INTERP without its NUL.
    public var interpreter: String? = nil
    /// SHT_GNU_verneed: per needed file, the version names this file asks of it.
    public var versionsNeeded: [(file: String, names: [String])] = []
    /// SHT_GNU_verdef: the versions this file defines, without the BASE entry (its own name).
    public var versionsDefined: [String] = []

    /// True when `prefix` starts with the ELF magic (any class or byte order).
    public static func isELF<C: Collection>(prefix: C) -> Bool where C.Element == UInt8 {
        prefix.starts(with: magic)
    }

    public init(bytes: [UInt8]) throws(FormatError) {
        self = try bytes.withByteReader { (r: ByteReader) throws(FormatError) -> ELF in try ELF(parsing: r) }
    }

    public init(parsing r: ByteReader) throws(FormatError) {
        guard r.count >= 64 else { throw .truncated(region: "ELF header", offset: r.origin, need: 64, have: r.count) }
        guard r.matches(Self.magic, at: 0) else { throw .elf("no ELF magic", offset: r.origin) }
        guard r[4] == 2 else { throw .elf("class \(r[4]) is not ELF64", offset: r.origin + 4) }
        guard r[5] == 1 else { throw .elf("byte order \(r[5]) is not little-endian", offset: r.origin + 5) }
        type = try r.u16(at: 16)
        machine = try r.u16(at: 18)
        let file = Layout(r)

        var regions = [Region]()
        var dynamic: Range<Int>? = nil
        let phoff = try r.u64(at: 32), phentsize = Int(try r.u16(at: 54)), phnum = Int(try r.u16(at: 56))
        if phnum > 0 {
            guard phentsize == 56 else { throw .elf("e_phentsize \(phentsize) is not 56", offset: r.origin + 54) }
            let table = try file.range(phoff, UInt64(phnum) * 56, "program headers")
            for i in 0..<phnum {
                let o = table.lowerBound + i * 56
                let pType = try r.u32(at: o), off = try r.u64(at: o + 8), vaddr = try r.u64(at: o + 16), size = try r.u64(at: o + 32)
                switch pType {
                case 1: regions.append(Region(vaddr: vaddr, file: try file.range(off, size, "PT_LOAD")))
                case 2: dynamic = try file.range(off, size, "PT_DYNAMIC")
                case 3:
                    let b = try r.copyBytes(try file.range(off, size, "PT_INTERP"))
                    interpreter = String(decoding: b.prefix { $0 != 0 }, as: UTF8.self)
                default: break
                }
            }
        } else {
            let shoff = try r.u64(at: 40), shentsize = Int(try r.u16(at: 58)), shnum = Int(try r.u16(at: 60))
            if shnum > 0 {
                guard shentsize == 64 else { throw .elf("e_shentsize \(shentsize) is not 64", offset: r.origin + 58) }
                let table = try file.range(shoff, UInt64(shnum) * 64, "section headers")
                for i in 0..<shnum {
                    let o = table.lowerBound + i * 64
                    let sType = try r.u32(at: o + 4), addr = try r.u64(at: o + 16), off = try r.u64(at: o + 24), size = try r.u64(at: o + 32)
                    guard sType != 8 else { continue }   // SHT_NOBITS has no file bytes
                    let bytes = try file.range(off, size, "section \(i)")
                    if sType == 6 && dynamic == nil { dynamic = bytes }
                    if addr != 0 { regions.append(Region(vaddr: addr, file: bytes)) }
                }
            }
        }
        guard let dynamic else { return }   // static executable or object file: nothing to load

        var strtab: UInt64? = nil, strsz: UInt64? = nil, sonameAt: UInt64? = nil
        var neededAt = [UInt64](), runpathAt = [UInt64](), rpathAt = [UInt64]()
        var verneed: UInt64? = nil, verneedNum: UInt64? = nil, verdef: UInt64? = nil, verdefNum: UInt64? = nil
        var o = dynamic.lowerBound
        while dynamic.upperBound - o >= 16 {
            let tag = try r.u64(at: o), val = try r.u64(at: o + 8)
            o += 16
            switch tag {
            case 0: o = dynamic.upperBound          // DT_NULL ends the table
            case 1: neededAt.append(val)
            case 5: strtab = val
            case 10: strsz = val
            case 14: sonameAt = val
            case 15: rpathAt.append(val)
            case 29: runpathAt.append(val)
            case 0x6fff_fffc: verdef = val
            case 0x6fff_fffd: verdefNum = val
            case 0x6fff_fffe: verneed = val
            case 0x6fff_ffff: verneedNum = val
            default: break
            }
        }
        let wantsStrings = !neededAt.isEmpty || !runpathAt.isEmpty || !rpathAt.isEmpty || sonameAt != nil || verneed != nil || verdef != nil
        guard wantsStrings else { return }
        guard let strtab else { throw .elf("dynamic table has no DT_STRTAB", offset: r.origin + dynamic.lowerBound) }
        var strings = try file.window(regions, strtab, "DT_STRTAB")
        if let strsz {
            guard strsz <= UInt64(strings.count) else {
                throw .elf("DT_STRSZ \(strsz) runs past its segment (\(strings.count) bytes)", offset: r.origin + strings.lowerBound)
            }
            strings = strings.lowerBound..<(strings.lowerBound + Int(strsz))
        }
        let names = Strings(r: r, table: strings)

        for at in neededAt { needed.append(try names.name(at, "DT_NEEDED")) }
        for at in runpathAt { runpath += Self.searchPath(try names.name(at, "DT_RUNPATH")) }
        for at in rpathAt { rpath += Self.searchPath(try names.name(at, "DT_RPATH")) }
        if let sonameAt { soname = try names.name(sonameAt, "DT_SONAME") }

        // Each entry read costs one unit: offsets only move forward, but a hostile file could
        // still make the nested walks quadratic.
        var budget = 1 << 16
        func spend(_ at: Int) throws(FormatError) {
            budget -= 1
            guard budget >= 0 else { throw .elf("more than 65536 version entries", offset: r.origin + at) }
        }
        if let verneed {
            let w = try file.window(regions, verneed, "DT_VERNEED")
            let limit = Self.count(verneedNum, w)
            var e = 0, seen = 0
            while seen < limit {
                try spend(w.lowerBound + e)
                let at = try Self.entry(w, e, 16, "Verneed", r)
                let cnt = Int(try r.u16(at: at + 2)), fileName = try names.name(UInt64(try r.u32(at: at + 4)), "vn_file")
                let aux = Int(try r.u32(at: at + 8)), next = Int(try r.u32(at: at + 12))
                var list = [String]()
                if cnt > 0 {
                    var a = try Self.step(w, e, aux, "vn_aux", r)
                    for k in 0..<cnt {
                        try spend(w.lowerBound + a)
                        let x = try Self.entry(w, a, 16, "Vernaux", r)
                        list.append(try names.name(UInt64(try r.u32(at: x + 8)), "vna_name"))
                        let n = Int(try r.u32(at: x + 12))
                        if n == 0 || k == cnt - 1 { break }
                        a = try Self.step(w, a, n, "vna_next", r)
                    }
                }
                versionsNeeded.append((file: fileName, names: list))
                seen += 1
                // A `next` is followed only when another entry is to be read.
                if next == 0 || seen == limit { break }
                e = try Self.step(w, e, next, "vn_next", r)
            }
        }
        if let verdef {
            let w = try file.window(regions, verdef, "DT_VERDEF")
            let limit = Self.count(verdefNum, w)
            var e = 0, seen = 0
            while seen < limit {
                try spend(w.lowerBound + e)
                let at = try Self.entry(w, e, 20, "Verdef", r)
                let flags = try r.u16(at: at + 2), cnt = try r.u16(at: at + 6)
                let aux = Int(try r.u32(at: at + 12)), next = Int(try r.u32(at: at + 16))
                // The first Verdaux names the version; later ones name its parents.
                if cnt > 0 {
                    let x = try Self.entry(w, try Self.step(w, e, aux, "vd_aux", r), 8, "Verdaux", r)
                    let name = try names.name(UInt64(try r.u32(at: x)), "vda_name")
                    if flags & 1 == 0 { versionsDefined.append(name) }   // VER_FLG_BASE: the file itself
                }
                seen += 1
                if next == 0 || seen == limit { break }
                e = try Self.step(w, e, next, "vd_next", r)
            }
        }
    }

    /// The newest GLIBC_x.y this file defines (a libc), nil if none.
    public var newestGlibcDefined: GlibcVersion? { GlibcVersion.newest(in: versionsDefined) }

    /// The newest GLIBC_x.y this file needs from any library, nil if none.
    public var newestGlibcNeeded: GlibcVersion? {
        var all = [String]()
        for v in versionsNeeded { all += v.names }
        return GlibcVersion.newest(in: all)
    }

    static func searchPath(_ s: String) -> [String] {
        s.isEmpty ? [] : s.split(separator: ":", omittingEmptySubsequences: false).map { String($0) }
    }

    /// Entries to walk: the DT_*NUM count when given, else until a zero `next` (bounded by the window).
    static func count(_ declared: UInt64?, _ w: Range<Int>) -> Int {
        let cap = UInt64(w.count)
        return Int(min(declared ?? cap, cap))
    }

    /// Absolute offset of an entry of `size` bytes at `rel` in window `w`.
    static func entry(_ w: Range<Int>, _ rel: Int, _ size: Int, _ what: String, _ r: ByteReader) throws(FormatError) -> Int {
        guard rel >= 0, rel <= w.count, size <= w.count - rel else {
            throw .elf("\(what) entry runs past its segment", offset: r.origin + w.lowerBound + max(0, min(rel, w.count)))
        }
        return w.lowerBound + rel
    }

    /// `rel + by`, which must stay inside the window.
    static func step(_ w: Range<Int>, _ rel: Int, _ by: Int, _ what: String, _ r: ByteReader) throws(FormatError) -> Int {
        // rel <= w.count and by < 2^32, so the sum cannot overflow.
        guard rel + by < w.count else { throw .elf("\(what) \(by) points past its segment", offset: r.origin + w.lowerBound + rel) }
        return rel + by
    }
}

extension ELF {
    /// One PT_LOAD (or allocated section): where its bytes sit in the file.
    struct Region {
        var vaddr: UInt64
        var file: Range<Int>
    }

    /// Bounds checks against the input.
    struct Layout {
        let r: ByteReader
        init(_ r: ByteReader) { self.r = r }

        func range(_ off: UInt64, _ size: UInt64, _ what: String) throws(FormatError) -> Range<Int> {
            let total = UInt64(r.count)
            guard off <= total, size <= total - off else {
                throw .outOfBounds(region: "ELF " + what, offset: off, size: size, fileSize: total)
            }
            return Int(off)..<Int(off + size)
        }

        /// From the file offset of virtual address `addr` to the end of the region that holds it.
        func window(_ regions: [Region], _ addr: UInt64, _ what: String) throws(FormatError) -> Range<Int> {
            for g in regions where addr >= g.vaddr && addr - g.vaddr < UInt64(g.file.count) {
                return (g.file.lowerBound + Int(addr - g.vaddr))..<g.file.upperBound
            }
            throw .elf("\(what) address 0x\(hex(addr)) is in no loaded segment", offset: r.origin)
        }
    }

    /// NUL-terminated names in the dynamic string table.
    struct Strings {
        let r: ByteReader
        let table: Range<Int>

        func name(_ at: UInt64, _ what: String) throws(FormatError) -> String {
            guard at < UInt64(table.count) else {
                throw .elf("\(what) offset \(at) is past the string table (\(table.count) bytes)", offset: r.origin + table.lowerBound)
            }
            let start = table.lowerBound + Int(at)
            var end = start
            while end < table.upperBound && r[end] != 0 { end += 1 }
            guard end < table.upperBound else { throw .elf("\(what) is not NUL-terminated", offset: r.origin + start) }
            return String(decoding: try r.copyBytes(start..<end), as: UTF8.self)
        }
    }
}

/// A glibc version as its symbol versions spell it ("GLIBC_2.34", "GLIBC_2.2.5"), ordered by number:
/// 2.4 < 2.30 < 2.34.
public struct GlibcVersion: Comparable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int

    public init(major: Int, minor: Int, patch: Int = 0) {
        self.major = major; self.minor = minor; self.patch = patch
    }

    /// "2.34" or "2.2.5"; nil for anything else.
    public init?(_ text: String) {
        var parts = [Int](), cur = 0, digits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: ".") {
                guard digits > 0 else { return nil }
                parts.append(cur); cur = 0; digits = 0
            } else if c >= 48 && c <= 57, digits < 6 {
                cur = cur * 10 + Int(c - 48); digits += 1
            } else {
                return nil
            }
        }
        guard digits > 0 else { return nil }
        parts.append(cur)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        self.init(major: parts[0], minor: parts[1], patch: parts.count == 3 ? parts[2] : 0)
    }

    /// A symbol version name: "GLIBC_2.34"; nil for GLIBC_PRIVATE, GLIBCXX_3.4 and the rest.
    public init?(versionName: String) {
        guard versionName.hasPrefix("GLIBC_") else { return nil }
        self.init(String(decoding: versionName.utf8.dropFirst(6), as: UTF8.self))
    }

    /// The newest GLIBC_ version among symbol version names, nil if there is none.
    public static func newest(in names: [String]) -> GlibcVersion? {
        var best: GlibcVersion? = nil
        for n in names {
            guard let v = GlibcVersion(versionName: n) else { continue }
            if best.map({ $0 < v }) ?? true { best = v }
        }
        return best
    }

    public var description: String { patch == 0 ? "\(major).\(minor)" : "\(major).\(minor).\(patch)" }

    public static func < (a: GlibcVersion, b: GlibcVersion) -> Bool {
        if a.major != b.major { return a.major < b.major }
        if a.minor != b.minor { return a.minor < b.minor }
        return a.patch < b.patch
    }
}
