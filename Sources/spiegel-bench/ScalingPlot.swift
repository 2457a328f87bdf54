import Foundation

/// An SVG line chart of a benchmark's scaling: messages per second (left axis) and p99 latency
/// (right axis) against the load (logarithmic), one line per route. Plain SVG, no script, no
/// outside fonts, so a README on any forge shows it.
struct ScalingPlot {
    struct Point {
        var load: Int
        var rate: Double
        var p99Milliseconds: Double
    }

    var title: String
    var loadLabel: String
    /// Route name → its points, in the order drawn.
    var series: [(name: String, points: [Point])]

    private static let width = 760.0, height = 420.0
    private static let left = 70.0, right = 70.0, top = 50.0, bottom = 60.0
    private static let colors = ["#1f6f8b", "#c0392b", "#7d3c98", "#2e7d32"]

    func svg() -> String {
        let points = self.series.flatMap(\.points)
        guard let minLoad = points.map(\.load).min(), let maxLoad = points.map(\.load).max(), minLoad > 0 else { return "" }
        let maxRate = Self.niceCeiling(points.map(\.rate).max() ?? 1)
        let maxP99 = Self.niceCeiling(points.map(\.p99Milliseconds).max() ?? 1)
        let plotWidth = Self.width - Self.left - Self.right, plotHeight = Self.height - Self.top - Self.bottom
        let logMin = log10(Double(minLoad)), logMax = max(log10(Double(maxLoad)), logMin + 1)
        func x(_ load: Int) -> Double { Self.left + (log10(Double(load)) - logMin) / (logMax - logMin) * plotWidth }
        func yRate(_ value: Double) -> Double { Self.top + plotHeight * (1 - value / maxRate) }
        func yP99(_ value: Double) -> Double { Self.top + plotHeight * (1 - value / maxP99) }
        func f(_ value: Double) -> String { String(format: "%.1f", value) }

        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Self.width))" height="\(Int(Self.height))" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="#ffffff"/>
            <text x="\(f(Self.width / 2))" y="22" text-anchor="middle" font-size="15">\(Self.escaped(self.title))</text>

            """
        // Grid and axes: five steps on each value axis, a tick per power of ten (and 2, 5) on the load axis.
        for step in 0...5 {
            let fraction = Double(step) / 5
            let y = Self.top + plotHeight * (1 - fraction)
            out += "<line x1=\"\(f(Self.left))\" y1=\"\(f(y))\" x2=\"\(f(Self.width - Self.right))\" y2=\"\(f(y))\" stroke=\"#e5e5e5\"/>\n"
            out += "<text x=\"\(f(Self.left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Int(maxRate * fraction))</text>\n"
            out += "<text x=\"\(f(Self.width - Self.right + 6))\" y=\"\(f(y + 4))\">\(Self.trimmed(maxP99 * fraction))</text>\n"
        }
        var tick = 1
        while tick <= maxLoad * 10 {
            for multiple in [1, 2, 5] where tick * multiple >= minLoad && tick * multiple <= maxLoad {
                let load = tick * multiple
                out += "<line x1=\"\(f(x(load)))\" y1=\"\(f(Self.top))\" x2=\"\(f(x(load)))\" y2=\"\(f(Self.top + plotHeight))\" stroke=\"#f0f0f0\"/>\n"
                out += "<text x=\"\(f(x(load)))\" y=\"\(f(Self.top + plotHeight + 16))\" text-anchor=\"middle\">\(load)</text>\n"
            }
            tick *= 10
        }
        out += "<rect x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#888\"/>\n"
        out += "<text x=\"\(f(Self.left + plotWidth / 2))\" y=\"\(f(Self.height - 18))\" text-anchor=\"middle\">\(Self.escaped(self.loadLabel))</text>\n"
        out += "<text transform=\"translate(18 \(f(Self.top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">messages/s (solid)</text>\n"
        out += "<text transform=\"translate(\(f(Self.width - 16)) \(f(Self.top + plotHeight / 2))) rotate(90)\" text-anchor=\"middle\">p99 ms (dashed)</text>\n"
        // The lines, a legend entry each.
        for (index, series) in self.series.enumerated() {
            let color = Self.colors[index % Self.colors.count]
            let sorted = series.points.sorted { $0.load < $1.load }
            let rate = sorted.map { "\(f(x($0.load))),\(f(yRate($0.rate)))" }.joined(separator: " ")
            let p99 = sorted.map { "\(f(x($0.load))),\(f(yP99($0.p99Milliseconds)))" }.joined(separator: " ")
            out += "<polyline points=\"\(rate)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            out += "<polyline points=\"\(p99)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n"
            for point in sorted {
                out += "<circle cx=\"\(f(x(point.load)))\" cy=\"\(f(yRate(point.rate)))\" r=\"3\" fill=\"\(color)\"/>\n"
            }
            let legendY = Self.top + 16 + Double(index) * 18
            out += "<line x1=\"\(f(Self.left + 12))\" y1=\"\(f(legendY - 4))\" x2=\"\(f(Self.left + 36))\" y2=\"\(f(legendY - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            out += "<text x=\"\(f(Self.left + 42))\" y=\"\(f(legendY))\">\(Self.escaped(series.name))</text>\n"
        }
        return out + "</svg>\n"
    }

    /// 1, 2 or 5 times a power of ten, at least `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let power = pow(10, floor(log10(value)))
        for multiple in [1.0, 2.0, 5.0, 10.0] where multiple * power >= value {
            return multiple * power
        }
        return 10 * power
    }

    private static func trimmed(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
