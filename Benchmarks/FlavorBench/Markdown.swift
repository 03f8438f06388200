import Foundation

/// The human summary written next to each report's JSON.
enum Markdown {
    static func render(_ r: Report, jsonName: String, svgName: String?) -> String {
        var s = "# flavor-bench \(r.profile) run, \(r.started.prefix(10)), commit \(r.commit)\(r.dirty ? " (with uncommitted changes)" : "")\n\n"
        let m = r.machine
        s += "- Machine: \(m.nproc) × \(m.cpuModel), \(m.memoryTotalKiB / 1024 / 1024) GiB, kernel \(m.kernel), \(m.os); "
        s += "work directory on **\(r.workFilesystem)**; load average \(m.loadAverageStart) at start, \(m.loadAverageEnd) at the end.\n"
        s += "- Command: `\(r.command)`; \(String(format: "%.1f", r.durationSeconds / 60)) minutes. Every sample: [`\(jsonName)`](\(jsonName)). Method: docs/PERFORMANCE.md.\n"
        let tools = r.tools.filter { !["swift", "python3", "flavor-bench"].contains($0.name) }
        s += "- Binaries: " + tools.map { "`\($0.name)` \($0.version.prefix(60))" + ($0.name.contains("launcher") ? " (\(formatBytes($0.sizeBytes ?? 0)))" : "") }.joined(separator: "; ") + ".\n"
        if !r.environment.isEmpty {
            s += "- Environment of the measured commands: " + r.environment.sorted { $0.key < $1.key }.map { "`\($0.key)=\($0.value)`" }.joined(separator: ", ") + ".\n"
        }
        let st = r.settings
        s += "- Repetitions (after \(st.warmups) warm-up): pack \(st.packReps), unpack \(st.unpackReps), cold \(st.coldReps) (corpora over 50 MB in the full profile: 3/5/7; under 1 MB: three times as many); warm \(st.warmReps) after \(st.warmWarmups) warm-ups. Commands of a phase are interleaved run by run.\n"
        for n in r.notes { s += "- \(n)\n" }
        if let svg = svgName { s += "\n![medians per corpus](\(svg))\n" }

        let targets = r.corpora.flatMap { c in c.targets.map { (c.name, $0) } }
        if !targets.isEmpty {
            s += "\n## Targets (issues 4 and 14)\n\n| corpus | target | goal | measured | met |\n|---|---|---|---:|:---:|\n"
            for (c, t) in targets { s += "| \(c) | \(t.label) | \(t.goal) | \(t.measured) | \(t.met ? "yes" : "**no**") |\n" }
        }

        s += "\n## Summary (medians)\n\n"
        s += "| corpus | files | input | pack: ours | tar -czf + rs builder | pigz | package ÷ gzip -6 | extract-all | tar -xzf | cold: ours | rs | go | warm: ours | exec floor | ours beside upstream | rs | go |\n"
        s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for c in r.corpora {
            func med(_ id: String) -> String { c.series(id).map { formatSeconds($0.wall.median) } ?? "–" }
            let sz = c.ratio("size/ours_payload÷gzip6").map { String(format: "%.4f", $0.value) } ?? "–"
            s += "| \(c.name) | \(c.files) | \(formatBytes(c.bytes)) | \(med("pack/ours")) | \(med("pack/tar_czf+rs_builder")) | \(med("pack/pigz")) | \(sz) | \(med("unpack/ours")) | \(med("unpack/tar_xzf")) | \(med("cold/ours")) | \(med("cold/rs")) | \(med("cold/go")) | \(med("warm/ours")) | \(med("warm/floor")) | \(med("warm/ours_mixed")) | \(med("warm/rs")) | \(med("warm/go")) |\n"
        }

        for c in r.corpora { s += corpus(c) }
        return s
    }

    static func ratioCell(_ c: CorpusResult, _ phase: String, _ sr: Series, rss: Bool = false) -> String {
        // Upstream's warm launches are compared with ours from the same interleaved group.
        let beside = phase == "warm" && (sr.id == "warm/rs" || sr.id == "warm/go") ? c.series("warm/ours_mixed") : nil
        guard let ours = beside ?? c.series("\(phase)/ours"), sr.id != ours.id else { return "–" }
        guard let a = rss ? ours.rssKiB?.median : ours.wall.median, let b = rss ? sr.rssKiB?.median : sr.wall.median, b > 0 else { return "–" }
        return String(format: "%.2f", a / b)
    }

    static func rate(_ v: Double?) -> String {
        guard let v else { return "–" }
        return v >= 100 ? String(format: "%.0f", v) : String(format: "%.2f", v)
    }

    static func mib(_ kib: Double?) -> String { kib.map { String(format: "%.1f MiB", $0 / 1024) } ?? "–" }

    static func corpus(_ c: CorpusResult) -> String {
        var s = "\n## \(c.name): \(c.files) files, \(c.dirs) directories, \(formatBytes(c.bytes))\n\n"
        s += "Digest `\(c.digest)` (definition: `\(c.origin)`).\n"
        let phases = [("pack", "Pack (directory → signed package; MB/s of input)"),
                      ("unpack", "Unpack (`flavor extract-all` beside tar and the write floor)"),
                      ("cold", "Cold launch (empty FLAVOR_CACHE_DIR every run; the payload is a no-op script)"),
                      ("warm", "Warm launch (workenv present)")]
        for (phase, title) in phases {
            let list = c.series.filter { $0.phase == phase }
            guard !list.isEmpty else { continue }
            s += "\n### \(title)\n\n"
            switch phase {
            case "warm":
                s += "| command | n | p50 | p95 | p99 | min – max | peak RSS | ours ÷ this |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
                for x in list {
                    s += "| \(x.label) | \(x.wall.n) | \(formatSeconds(x.wall.median)) | \(formatSeconds(x.wall.p95)) | \(formatSeconds(x.wall.p99)) | \(formatSeconds(x.wall.min)) – \(formatSeconds(x.wall.max)) | \(mib(x.rssKiB?.median)) | \(ratioCell(c, phase, x)) |\n"
                }
            case "cold":
                s += "| command | n | median | p95 | min – max | files/s | peak RSS median (max) | ours ÷ this | RSS ours ÷ this |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
                for x in list {
                    s += "| \(x.label) | \(x.wall.n) | \(formatSeconds(x.wall.median)) | \(formatSeconds(x.wall.p95)) | \(formatSeconds(x.wall.min)) – \(formatSeconds(x.wall.max)) | \(rate(x.filesPerSecond)) | \(mib(x.rssKiB?.median)) (\(mib(x.rssKiB?.max))) | \(ratioCell(c, phase, x)) | \(ratioCell(c, phase, x, rss: true)) |\n"
                }
            default:
                s += "| command | n | median | p95 | min – max | MB/s | \(phase == "unpack" ? "files/s | " : "")peak RSS | ours ÷ this |\n|---|---:|---:|---:|---:|---:|\(phase == "unpack" ? "---:|" : "")---:|---:|\n"
                for x in list {
                    s += "| \(x.label) | \(x.wall.n) | \(formatSeconds(x.wall.median)) | \(formatSeconds(x.wall.p95)) | \(formatSeconds(x.wall.min)) – \(formatSeconds(x.wall.max)) | \(String(format: "%.1f", x.mbPerSecond ?? 0)) | \(phase == "unpack" ? "\(rate(x.filesPerSecond)) | " : "")\(mib(x.rssKiB?.median)) | \(ratioCell(c, phase, x)) |\n"
                }
            }
            if phase == "pack" {
                s += "\n| size | bytes | ÷ input |\n|---|---:|---:|\n"
                for z in c.sizes { s += "| \(z.label) | \(z.bytes) | \(z.id.hasPrefix("launcher") ? "" : String(format: "%.3f", Double(z.bytes) / Double(max(1, c.bytes)))) |\n" }
            }
        }
        if !c.ratios.isEmpty {
            s += "\n### Ratios in this run (ours ÷ reference, medians; < 1 = ours faster or smaller)\n\n"
            for x in c.ratios { s += "- \(x.label): **\(String(format: x.id.hasPrefix("size") ? "%.4f" : "%.3f", x.value))**\n" }
        }
        if let o = c.otherCPU, !o.isEmpty {
            let order = ["pack", "unpack", "cold", "warm"]
            let parts = o.sorted { (order.firstIndex(of: $0.key) ?? 9) < (order.firstIndex(of: $1.key) ?? 9) }
                .map { String(format: "%@ %.0f%%", $0.key, $0.value * 100) }
            let worst = o.values.max() ?? 0
            s += "\nOther processes' CPU while each phase ran (share of one core): " + parts.joined(separator: ", ")
                + (worst > 0.1 ? " — **disturbed: treat this corpus's absolute figures with care**.\n" : ".\n")
        }
        if !c.checks.isEmpty {
            s += "\nChecks: " + c.checks.joined(separator: "; ") + ".\n"
        }
        return s
    }
}
