import Foundation

/// The in-run ratios every report lists: ours ÷ reference, from the medians of one run (< 1: ours is
/// faster or smaller).
enum Ratios {
    /// (id, label, numerator series, denominator series); series ids are `phase/tool`.
    static let timeRatios: [(String, String, String, String)] = [
        ("pack/ours÷tar_czf+rs_builder", "pack: ours ÷ (tar -czf + upstream rs builder)", "pack/ours", "pack/tar_czf+rs_builder"),
        ("pack/ours÷tar_czf+go_builder", "pack: ours ÷ (tar -czf + upstream go builder)", "pack/ours", "pack/tar_czf+go_builder"),
        ("pack/ours÷tar_czf", "pack: ours ÷ tar -czf", "pack/ours", "pack/tar_czf"),
        ("pack/ours÷pigz", "pack: ours ÷ pigz", "pack/ours", "pack/pigz"),
        ("pack/ours÷pigz6", "pack: ours ÷ pigz -6 -p nproc of the same tar (gate)", "pack/ours", "pack/pigz6"),
        ("pack/ours÷gzip6", "pack: ours ÷ gzip -6 of the same tar (gate without pigz)", "pack/ours", "pack/gzip6"),
        ("unpack/ours÷tar_xzf", "unpack: extract-all ÷ tar -xzf", "unpack/ours", "unpack/tar_xzf"),
        ("unpack/ours÷pigz_xf", "unpack: extract-all ÷ tar -I pigz -xf", "unpack/ours", "unpack/pigz_xf"),
        ("unpack/ours÷write_floor", "unpack: extract-all ÷ write floor (gate)", "unpack/ours", "unpack/write_floor"),
        ("cold/ours÷rs", "cold launch: ours ÷ upstream rs", "cold/ours", "cold/rs"),
        ("cold/ours÷go", "cold launch: ours ÷ upstream go", "cold/ours", "cold/go"),
        ("cold/ours÷tar_xzf", "cold launch: ours ÷ tar -xzf", "cold/ours", "cold/tar_xzf"),
        ("cold/ours÷write_floor", "cold launch: ours ÷ write floor (gate)", "cold/ours", "cold/write_floor"),
        ("cold/ours_uring÷ours_posix", "cold launch: FLAVOR_IO=uring ÷ FLAVOR_IO=posix", "cold/ours_uring", "cold/ours_posix"),
        ("warm/ours÷floor", "warm launch p50: ours ÷ exec floor (gate)", "warm/ours", "warm/floor"),
        ("warm/ours÷rs", "warm launch p50: ours ÷ upstream rs (interleaved together)", "warm/ours_mixed", "warm/rs"),
        ("warm/ours÷go", "warm launch p50: ours ÷ upstream go (interleaved together)", "warm/ours_mixed", "warm/go"),
        ("warm/ours_policy÷ours", "warm launch p50: under a trusted-key policy ÷ without", "warm/ours_policy", "warm/ours"),
        ("warm/ours_disk÷floor", "warm launch p50, package on disk: ours ÷ exec floor", "warm/ours_disk", "warm/floor"),
        ("warm/ours÷exec_only", "warm launch p50: ours ÷ an exec-only launcher", "warm/ours", "warm/exec_only"),
    ]

    static func compute(_ r: CorpusResult) -> [Ratio] {
        var out = medians(r, timeRatios)
        for (id, label, n, d) in [("cold_rss/ours÷rs", "cold peak RSS: ours ÷ upstream rs", "cold/ours", "cold/rs"),
                                  ("cold_rss/ours÷go", "cold peak RSS: ours ÷ upstream go", "cold/ours", "cold/go")] {
            guard let a = r.series(n)?.rssKiB?.median, let b = r.series(d)?.rssKiB?.median, b > 0 else { continue }
            out.append(Ratio(id: id, label: label, numerator: n + " rss", denominator: d + " rss", value: a / b))
        }
        return out + sizes(r, [("size/ours_payload÷gzip6", "size: our payload ÷ gzip -6 of the tar (gate)", "ours_payload", "gzip6"),
                               ("size/ours_payload÷pigz", "size: our payload ÷ pigz -6", "ours_payload", "pigz"),
                               ("size/ours_package÷rs_package", "size: our package ÷ upstream rs package", "ours_package", "rs_package")])
    }

    /// (id, label, numerator series, denominator series) → ratios of wall-clock medians, where both exist.
    static func medians(_ r: CorpusResult, _ table: [(String, String, String, String)]) -> [Ratio] {
        table.compactMap { id, label, n, d in
            guard let a = r.series(n)?.wall.median, let b = r.series(d)?.wall.median, b > 0 else { return nil }
            return Ratio(id: id, label: label, numerator: n, denominator: d, value: a / b)
        }
    }

    /// (id, label, numerator size, denominator size) → ratios of sizes, where both exist.
    static func sizes(_ r: CorpusResult, _ table: [(String, String, String, String)]) -> [Ratio] {
        table.compactMap { id, label, n, d in
            guard let a = r.size(n), let b = r.size(d), b > 0 else { return nil }
            return Ratio(id: id, label: label, numerator: "size " + n, denominator: "size " + d, value: Double(a) / Double(b))
        }
    }
}

/// The targets of issues 4 and 14, checked on one corpus's numbers. Pack targets are skipped for corpora under
/// 1 MB (process start-up dominates there); absolute-time targets apply to site-packages only.
enum Targets {
    static func evaluate(_ r: CorpusResult, cores: Int) -> [Target] {
        var t = [Target]()
        // No schedule on `cores` cores can finish before its CPU time ÷ cores: the least this command
        // could take here, as a multiple of the reference's wall time, with the CPU it is made of.
        func cpuBound(_ s: Series?, against ref: Series?) -> String? {
            guard let s, let ref, ref.wall.median > 0, cores > 0, !s.samples.isEmpty else { return nil }
            let user = Stats(s.samples.map(\.user)).median, sys = Stats(s.samples.map(\.sys)).median
            return String(format: "%.2f× (user %@ + sys %@)", (user + sys) / Double(cores) / ref.wall.median,
                          formatSeconds(user), formatSeconds(sys))
        }
        func ratioTarget(_ id: String, _ label: String, _ ratioId: String, atMost: Double, goal: String) {
            guard let v = r.ratio(ratioId)?.value else { return }
            t.append(Target(id: id, label: label, measured: String(format: "%.2f× (%.1f× faster)", v, 1 / v), goal: goal, met: v <= atMost))
        }
        if let cold = r.series("cold/ours") {
            if let rss = cold.rssKiB {
                let mb = rss.max / 1024
                t.append(Target(id: "cold_rss", label: "cold launch peak RSS (max of runs)", measured: String(format: "%.1f MiB", mb),
                                goal: "≤ 64 MiB", met: mb <= 64))
            }
            if r.name == "site-packages" {
                t.append(Target(id: "cold_time", label: "cold launch", measured: formatSeconds(cold.wall.median), goal: "≤ 0.30 s",
                                met: cold.wall.median <= 0.30))
            }
            if r.bytes >= 1_000_000 {
                ratioTarget("cold_vs_rs", "cold launch vs upstream rs", "cold/ours÷rs", atMost: 0.25, goal: "≥ 4× faster")
                ratioTarget("cold_vs_tar", "cold launch vs tar -xzf", "cold/ours÷tar_xzf", atMost: 1.0, goal: "faster")
            }
            if r.name == "site-packages" || r.name == "big-blob" {
                ratioTarget("cold_vs_write_floor", "cold launch vs the write floor (issue 14)", "cold/ours÷write_floor", atMost: 1.25, goal: "≤ 1.25×")
                if let i = t.indices.last, t[i].id == "cold_vs_write_floor", let v = r.ratio("cold/ours÷write_floor")?.value {
                    t[i].measured = String(format: "%.2f×", v)
                }
                if let bound = cpuBound(r.series("cold/ours"), against: r.series("cold/write_floor")) {
                    t.append(Target(id: "cold_bound", label: "what stands in the way: our CPU time ÷ \(cores) cores, vs the write floor (shown)",
                                    measured: bound, goal: "–", met: true))
                }
            }
            if r.bytes >= 1_000_000, let v = r.ratio("cold/ours_uring÷ours_posix")?.value {
                t.append(Target(id: "uring_vs_posix", label: "io_uring cold launch vs plain threads", measured: String(format: "speed %.2f× of posix", 1 / v),
                                goal: "≥ 0.9×", met: 1 / v >= 0.9))
            }
        }
        if let w = r.series("warm/ours"), let f = r.series("warm/floor") {
            let over = (w.wall.median - f.wall.median) * 1000
            t.append(Target(id: "warm_over_floor", label: "warm launch p50 over exec of the payload", measured: String(format: "+%.2f ms", over),
                            goal: "≤ +1 ms", met: over <= 1.0))
            // Issue 14: the launcher's whole cost, and its own work beside an exec-only launcher.
            t.append(Target(id: "warm_over_floor_r2", label: "warm launch p50 over exec of the payload (issue 14)", measured: String(format: "+%.2f ms", over),
                            goal: "≤ +0.3 ms", met: over <= 0.3))
            if let e = r.series("warm/exec_only") {
                let own = (w.wall.median - e.wall.median) * 1000, exec = (e.wall.median - f.wall.median) * 1000
                t.append(Target(id: "warm_own_work", label: "of which one more exec / the launcher's own work (shown)",
                                measured: String(format: "+%.2f / +%.2f ms", exec, own), goal: "–", met: true))
            }
            if let d = r.series("warm/ours_disk") {
                let o = (d.wall.median - f.wall.median) * 1000
                t.append(Target(id: "warm_over_floor_disk", label: "the same, package file on disk (not tmpfs)", measured: String(format: "+%.2f ms", o),
                                goal: "≤ +1 ms", met: o <= 1.0))
            }
        }
        if let l = r.size("launcher_ours") {
            t.append(Target(id: "launcher_size", label: "launcher size, stripped (issue 14)", measured: String(format: "%.2f MiB (%lld bytes)", Double(l) / 1_048_576, l),
                            goal: "≤ 1 MiB", met: l <= 1 << 20))
        }
        if r.bytes >= 1_000_000 {
            if r.name == "site-packages", let p = r.series("pack/ours") {
                t.append(Target(id: "pack_time", label: "pack", measured: formatSeconds(p.wall.median), goal: "≤ 1.2 s", met: p.wall.median <= 1.2))
            }
            ratioTarget("pack_vs_upstream", "pack vs tar -czf + upstream rs builder", "pack/ours÷tar_czf+rs_builder", atMost: 1 / 4.5, goal: "≥ 4.5× faster")
            ratioTarget("pack_vs_pigz", "pack vs pigz", "pack/ours÷pigz", atMost: 0.5, goal: "≥ 2× faster")
            if let bound = cpuBound(r.series("pack/ours"), against: r.series("pack/pigz")) {
                t.append(Target(id: "pack_bound", label: "what stands in the way: our CPU time ÷ \(cores) cores, vs pigz (shown)",
                                measured: bound, goal: "–", met: true))
            }
            if let v = r.ratio("size/ours_payload÷gzip6")?.value {
                t.append(Target(id: "size_vs_gzip6", label: "package payload vs gzip -6", measured: String(format: "%.4f×", v), goal: "≤ 1.0×", met: v <= 1.0))
            }
        }
        return t
    }
}
