/// Order statistics of a list of values (nearest-rank percentiles).
struct Stats: Codable, Sendable {
    var n: Int
    var median: Double
    var p95: Double
    var p99: Double
    var min: Double
    var max: Double
    var mean: Double

    init(_ values: [Double]) {
        let s = values.sorted()
        n = s.count
        guard !s.isEmpty else { median = .nan; p95 = .nan; p99 = .nan; min = .nan; max = .nan; mean = .nan; return }
        median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        p95 = Stats.rank(s, 0.95)
        p99 = Stats.rank(s, 0.99)
        min = s[0]
        max = s[s.count - 1]
        mean = s.reduce(0, +) / Double(s.count)
    }

    /// Nearest-rank percentile: the smallest value with at least q of the samples at or below it.
    static func rank(_ sorted: [Double], _ q: Double) -> Double {
        let r = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, r - 1))]
    }
}
