import Foundation

/// A hand-written SVG bar chart: one row per corpus, one panel per measurement, bars = medians,
/// each panel scaled to its own largest bar (values are printed, so scales never mislead).
enum SVGChart {
    static let panels: [(String, String, [(String, String)])] = [
        ("pack", "pack", [("pack/ours", "flavor"), ("pack/pigz", "pigz"), ("pack/tar_czf", "tar -czf"),
                              ("pack/tar_czf+rs_builder", "tar + rs builder"), ("pack/tar_czf+go_builder", "tar + go builder")]),
        ("unpack", "unpack", [("unpack/ours", "flavor extract-all"), ("unpack/tar_xzf", "tar -xzf"),
                                  ("unpack/pigz_xf", "tar -I pigz -xf"), ("unpack/write_floor", "write floor")]),
        ("cold", "cold launch (empty cache)", [("cold/ours", "flavor"), ("cold/ours_uring", "flavor io_uring"), ("cold/ours_posix", "flavor posix"),
                                     ("cold/rs", "upstream rs"), ("cold/go", "upstream go"), ("cold/tar_xzf", "tar -xzf")]),
        ("warm", "warm launch p50", [("warm/ours", "flavor"), ("warm/ours_disk", "flavor, pkg on disk"), ("warm/ours_mixed", "flavor beside upstream"), ("warm/rs", "upstream rs"), ("warm/go", "upstream go"),
                                          ("warm/floor", "exec floor")]),
    ]

    static func color(_ id: String) -> String {
        if id.hasSuffix("/ours") || id.contains("/ours_") { return "#2563eb" }
        if id.contains("rs") { return "#ea580c" }
        if id.contains("go") { return "#0d9488" }
        if id.contains("floor") { return "#374151" }
        return "#9ca3af"
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func render(_ r: Report) -> String {
        let cellW = 330.0, labelW = 112.0, barH = 13.0, gap = 4.0, nameW = 120.0, top = 48.0
        let rowsPerCorpus = r.corpora.map { c in panels.map { p in p.2.filter { c.series($0.0) != nil }.count }.max() ?? 0 }
        let rowH = rowsPerCorpus.map { max(50, Double($0) * (barH + gap) + 14) }
        let width = nameW + cellW * Double(panels.count) + 10
        let height = top + rowH.reduce(0, +) + 24
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="8" y="18" font-size="14" font-weight="bold">flavor-bench \(esc(r.profile)) · \(esc(String(r.started.prefix(10)))) · \(esc(r.commit)) · \(r.machine.nproc) cores, \(esc(r.workFilesystem)) — medians, blue = flavor</text>

            """
        for (i, p) in panels.enumerated() {
            s += "<text x=\"\(nameW + cellW * Double(i) + 4)\" y=\"\(top - 10)\" font-weight=\"bold\">\(esc(p.1))</text>\n"
        }
        var y = top
        for (ci, c) in r.corpora.enumerated() {
            s += "<line x1=\"4\" x2=\"\(width - 4)\" y1=\"\(y - 4)\" y2=\"\(y - 4)\" stroke=\"#e5e7eb\"/>\n"
            s += "<text x=\"8\" y=\"\(y + 12)\" font-weight=\"bold\">\(esc(c.name))</text>\n"
            s += "<text x=\"8\" y=\"\(y + 26)\" fill=\"#6b7280\">\(c.files) files</text>\n"
            s += "<text x=\"8\" y=\"\(y + 40)\" fill=\"#6b7280\">\(esc(formatBytes(c.bytes)))</text>\n"
            for (pi, p) in panels.enumerated() {
                let bars = p.2.compactMap { id, label in c.series(id).map { (id, label, $0.wall.median * (p.0 == "warm" ? 1000 : 1)) } }
                let maxV = bars.map(\.2).max() ?? 1
                let x0 = nameW + cellW * Double(pi)
                let barMax = cellW - labelW - 70
                for (bi, b) in bars.enumerated() {
                    let by = y + Double(bi) * (barH + gap)
                    let w = maxV > 0 ? max(1, barMax * b.2 / maxV) : 1
                    s += "<text x=\"\(x0 + labelW - 4)\" y=\"\(by + barH - 3)\" text-anchor=\"end\">\(esc(b.1))</text>\n"
                    s += "<rect x=\"\(x0 + labelW)\" y=\"\(by)\" width=\"\(String(format: "%.1f", w))\" height=\"\(barH)\" fill=\"\(color(b.0))\"/>\n"
                    let v = p.0 == "warm" ? String(format: "%.2f ms", b.2) : formatSeconds(b.2)
                    s += "<text x=\"\(x0 + labelW + w + 3)\" y=\"\(by + barH - 3)\">\(v)</text>\n"
                }
            }
            y += rowH[ci]
        }
        s += "<text x=\"8\" y=\"\(height - 8)\" fill=\"#6b7280\">Each panel is scaled to its own longest bar. Ratios and every sample: the report's .md and .json.</text>\n"
        s += "</svg>\n"
        return s
    }
}
