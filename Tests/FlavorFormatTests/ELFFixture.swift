// Builds small ELF64 little-endian shared objects with chosen dynamic entries, so the reader's
// tests can state exact expectations (search paths with empty entries, crafted hostile fields).
//
//     0      ELF header
//     64     program headers: PT_LOAD (the whole file at vaddr `base`), PT_DYNAMIC, [PT_INTERP]
//     ...    interp, .dynstr, verneed, verdef (8-aligned), .dynamic
struct ELFFixture {
    var needed: [String] = []
    var soname: String? = nil
    var rpath: String? = nil
    var runpath: String? = nil
    var interpreter: String? = nil
    var verneed: [(file: String, names: [String])] = []
    var verdef: [String] = []
    /// Replaces the generated verneed table; DT_VERNEEDNUM is then left out.
    var rawVerneed: [UInt8]? = nil
    var base: UInt64 = 0x40_0000
    /// Entries patched after layout: (tag, value) replacing the generated value of `tag`.
    var overrides: [(UInt64, UInt64)] = []

    /// Where the pieces ended up, for tests that patch them.
    struct Layout { var strtab = 0, strsz = 0, verneed = 0, verdef = 0, dynamic = 0 }

    func bytes() -> [UInt8] { build().bytes }

    func build() -> (bytes: [UInt8], layout: Layout) {
        var strtab: [UInt8] = [0]
        var offsets = [String: UInt32]()
        func str(_ s: String) -> UInt32 {
            if let o = offsets[s] { return o }
            let o = UInt32(strtab.count)
            strtab += Array(s.utf8) + [0]
            offsets[s] = o
            return o
        }
        let phnum = interpreter == nil ? 2 : 3
        var out = [UInt8](repeating: 0, count: 64 + 56 * phnum)
        var layout = Layout()

        var interpAt = 0, interpSize = 0
        if let i = interpreter {
            interpAt = out.count; out += Array(i.utf8) + [0]; interpSize = out.count - interpAt
        }
        // Strings first, so the tables can refer to them.
        let neededOffs = needed.map(str)
        let sonameOff = soname.map(str)
        let rpathOff = rpath.map(str), runpathOff = runpath.map(str)
        let verneedOffs = verneed.map { (str($0.file), $0.names.map(str)) }
        let baseName = str(soname ?? "fixture.so")
        let verdefOffs = verdef.map(str)
        layout.strtab = out.count; layout.strsz = strtab.count
        out += strtab

        func align() { while out.count % 8 != 0 { out.append(0) } }
        align()
        layout.verneed = out.count
        if let raw = rawVerneed {
            out += raw
        } else {
            for (i, (file, names)) in verneedOffs.enumerated() {
                let last = i == verneedOffs.count - 1
                out.putU16(1); out.putU16(UInt16(names.count)); out.putU32(file); out.putU32(16)
                out.putU32(last ? 0 : UInt32(16 + 16 * names.count))
                for (j, n) in names.enumerated() {
                    out.putU32(0); out.putU16(0); out.putU16(UInt16(j + 2)); out.putU32(n)
                    out.putU32(j == names.count - 1 ? 0 : 16)
                }
            }
        }
        align()
        layout.verdef = out.count
        if !verdef.isEmpty {
            let all = [baseName] + verdefOffs
            for (i, n) in all.enumerated() {
                out.putU16(1); out.putU16(i == 0 ? 1 : 0); out.putU16(UInt16(i + 1)); out.putU16(1)
                out.putU32(0); out.putU32(20); out.putU32(i == all.count - 1 ? 0 : 28)
                out.putU32(n); out.putU32(0)
            }
        }
        align()
        layout.dynamic = out.count
        var dyn = [(UInt64, UInt64)]()
        for o in neededOffs { dyn.append((1, UInt64(o))) }
        if let o = sonameOff { dyn.append((14, UInt64(o))) }
        if let o = rpathOff { dyn.append((15, UInt64(o))) }
        if let o = runpathOff { dyn.append((29, UInt64(o))) }
        dyn.append((5, base + UInt64(layout.strtab)))
        dyn.append((10, UInt64(layout.strsz)))
        if rawVerneed != nil || !verneed.isEmpty {
            dyn.append((0x6fff_fffe, base + UInt64(layout.verneed)))
            if rawVerneed == nil { dyn.append((0x6fff_ffff, UInt64(verneed.count))) }
        }
        if !verdef.isEmpty {
            dyn.append((0x6fff_fffc, base + UInt64(layout.verdef)))
            dyn.append((0x6fff_fffd, UInt64(verdef.count + 1)))
        }
        for (tag, value) in overrides {
            if let i = dyn.firstIndex(where: { $0.0 == tag }) { dyn[i].1 = value } else { dyn.append((tag, value)) }
        }
        dyn.append((0, 0))
        for (t, v) in dyn { out.putU64(t); out.putU64(v) }
        let dynSize = out.count - layout.dynamic

        // ELF header.
        out.replace(0, [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0])
        out.set16(16, 3); out.set16(18, 62); out.set32(20, 1)
        out.set64(32, 64)                        // e_phoff
        out.set16(52, 64); out.set16(54, 56); out.set16(56, UInt16(phnum))
        out.set16(58, 64)                        // e_shentsize; no sections
        func phdr(_ i: Int, _ type: UInt32, _ off: Int, _ size: Int) {
            let p = 64 + 56 * i
            out.set32(p, type); out.set32(p + 4, 4)
            out.set64(p + 8, UInt64(off)); out.set64(p + 16, base + UInt64(off)); out.set64(p + 24, base + UInt64(off))
            out.set64(p + 32, UInt64(size)); out.set64(p + 40, UInt64(size)); out.set64(p + 48, 8)
        }
        phdr(0, 1, 0, out.count)
        phdr(1, 2, layout.dynamic, dynSize)
        if interpreter != nil { phdr(2, 3, interpAt, interpSize) }
        return (out, layout)
    }
}

extension Array where Element == UInt8 {
    mutating func putU16(_ v: UInt16) { for i in 0..<2 { append(UInt8(truncatingIfNeeded: v >> (8 * UInt16(i)))) } }
    mutating func putU32(_ v: UInt32) { for i in 0..<4 { append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
    mutating func putU64(_ v: UInt64) { for i in 0..<8 { append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
    mutating func set16(_ at: Int, _ v: UInt16) { for i in 0..<2 { self[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt16(i))) } }
    mutating func set32(_ at: Int, _ v: UInt32) { for i in 0..<4 { self[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
    mutating func set64(_ at: Int, _ v: UInt64) { for i in 0..<8 { self[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
    mutating func replace(_ at: Int, _ b: [UInt8]) { for (i, x) in b.enumerated() { self[at + i] = x } }
    func get16(_ at: Int) -> UInt16 { (0..<2).reduce(0) { $0 | UInt16(self[at + $1]) << (8 * UInt16($1)) } }
    func get32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(self[at + $1]) << (8 * UInt32($1)) } }
    func get64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(self[at + $1]) << (8 * UInt64($1)) } }
}
