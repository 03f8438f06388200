/// "NAME=value" entries of an environment being edited for exec. Names are compared as UTF-8
/// bytes in place and untouched entries are passed on as they came: no name or value String is
/// made unless asked for (a warm start edits the environment on every launch, and building and
/// comparing key Strings was a sixth of its instructions).
public struct EnvironmentEntries: Sendable {
    public private(set) var entries: [String]
    /// Byte length of each entry's name (the offset of its first "=").
    var nameLengths: [Int]

    /// Entries without "=" are dropped, as execve's callers expect.
    public init(_ base: [String]) {
        entries = []; nameLengths = []
        entries.reserveCapacity(base.count + 8); nameLengths.reserveCapacity(base.count + 8)
        for var e in base {
            guard let eq = e.withUTF8({ $0.firstIndex(of: UInt8(ascii: "=")) }) else { continue }
            entries.append(e); nameLengths.append(eq)
        }
    }

    public var count: Int { entries.count }

    func withName<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var e = entries[i]
        let n = nameLengths[i]
        return e.withUTF8 { body(UnsafeBufferPointer(rebasing: $0[0..<n])) }
    }

    func nameIs(_ i: Int, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
        nameLengths[i] == name.count && withName(i) { $0.elementsEqual(name) }
    }

    /// Whether entry `i`'s name is `name`.
    public func nameIs(_ i: Int, _ name: String) -> Bool {
        var n = name
        return n.withUTF8 { nameIs(i, $0) }
    }

    /// Whether entry `i`'s name matches the glob `pattern` (Glob.match).
    public func name(_ i: Int, matches pattern: String) -> Bool {
        var p = pattern
        return p.withUTF8 { pu in withName(i) { Glob.match(pu, $0) } }
    }

    /// The first (or last) entry named `name`.
    public func index(of name: String, last: Bool = false) -> Int? {
        var n = name
        return n.withUTF8 { nu in
            last ? entries.indices.last { nameIs($0, nu) } : entries.indices.first { nameIs($0, nu) }
        }
    }

    public func value(at i: Int) -> String {
        var e = entries[i]
        let from = nameLengths[i] + 1
        return e.withUTF8 { String(decoding: UnsafeBufferPointer(rebasing: $0[from...]), as: UTF8.self) }
    }

    /// The value of the last entry named `name` (what a shell sees when a name repeats).
    public func get(_ name: String) -> String? { index(of: name, last: true).map(value(at:)) }

    /// Drops the entries for which `drop(self, index)` is true; indices are those before the call.
    mutating func removeAll(where drop: (EnvironmentEntries, Int) -> Bool) {
        var w = 0
        for i in entries.indices where !drop(self, i) {
            if w != i { nameLengths[w] = nameLengths[i]; entries[w] = entries[i] }
            w += 1
        }
        nameLengths.removeSubrange(w...); entries.removeSubrange(w...)
    }

    /// Drops every entry named `name`.
    public mutating func remove(_ name: String) {
        removeAll { env, i in env.nameIs(i, name) }
    }

    /// Drops the entries whose names match `pattern` and none of `kept` (runtime.env unset and pass).
    public mutating func remove(matching pattern: String, except kept: [String]) {
        removeAll { env, i in env.name(i, matches: pattern) && !kept.contains { env.name(i, matches: $0) } }
    }

    /// Sets `name` in place of its first entry (or appends it) and drops any later entries of it.
    public mutating func set(_ name: String, _ value: String) {
        let entry = name + "=" + value
        guard let i = index(of: name) else { nameLengths.append(name.utf8.count); entries.append(entry); return }
        entries[i] = entry
        if entries.indices[(i + 1)...].contains(where: { nameIs($0, name) }) {
            removeAll { env, j in j != i && env.nameIs(j, name) }
        }
    }
}

/// Glob matching with `*` and `?` over UTF-8 bytes, `?` being one Unicode scalar: runtime.env
/// patterns are matched against every variable on every launch, so no scalar arrays are built.
public enum Glob {
    public static func match(_ pattern: String, _ name: String) -> Bool {
        var p = pattern, n = name
        return p.withUTF8 { pu in n.withUTF8 { nu in match(pu, nu) } }
    }

    static func match(_ p: UnsafeBufferPointer<UInt8>, _ n: UnsafeBufferPointer<UInt8>) -> Bool {
        // The end of the scalar at byte i: its lead byte and the continuation bytes (10xxxxxx) after it.
        func next(_ u: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
            var j = i + 1
            while j < u.count, u[j] & 0xC0 == 0x80 { j += 1 }
            return j
        }
        // The pattern's scalar at pi equals the name's at ni: where the pattern goes on.
        func literal(_ pi: Int, _ ni: Int) -> Int? {
            let pe = next(p, pi), ne = next(n, ni)
            guard pe - pi == ne - ni else { return nil }
            for k in 0..<(pe - pi) where p[pi + k] != n[ni + k] { return nil }
            return pe
        }
        let star = UInt8(ascii: "*"), any = UInt8(ascii: "?")
        var pi = 0, ni = 0, starAt = -1, mark = 0
        while ni < n.count {
            if pi < p.count, p[pi] == star { starAt = pi; mark = ni; pi += 1 }
            else if pi < p.count, p[pi] == any { pi += 1; ni = next(n, ni) }
            else if pi < p.count, let pe = literal(pi, ni) { ni += pe - pi; pi = pe }
            else if starAt >= 0 { pi = starAt + 1; mark = next(n, mark); ni = mark }
            else { return false }
        }
        while pi < p.count, p[pi] == star { pi += 1 }
        return pi == p.count
    }
}
