/// How the reports write a duration, in one place: whole milliseconds, seconds with three decimals (JUnit's `time`,
/// JSON's numbers), and the console's short form.
enum DurationText {
    /// The duration in whole milliseconds, rounded down; a negative one counts as zero.
    static func milliseconds(_ duration: Duration) -> Int64 {
        max(0, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Seconds with three decimals, "1.234", written from the whole milliseconds.
    static func seconds(_ duration: Duration) -> String {
        seconds(milliseconds: milliseconds(duration))
    }

    /// Seconds with three decimals, "1.234", for a count of milliseconds that is not negative.
    static func seconds(milliseconds: Int64) -> String {
        let fraction = String(milliseconds % 1000)
        return "\(milliseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// "850 ms" under a second, "1.23 s" from there.
    static func short(_ duration: Duration) -> String {
        let ms = milliseconds(duration)
        if ms < 1000 { return "\(ms) ms" }
        let hundredths = roundedToHundredths(milliseconds: ms)
        let fraction = String(hundredths % 100)
        return "\(hundredths / 100)." + (fraction.count == 1 ? "0" : "") + fraction + " s"
    }

    /// Milliseconds as hundredths of a second, rounded as `printf("%.2f", Double(ms) / 1000)` rounds, which the text
    /// has always shown: a last digit 5 rounds by where the binary double lies beside the decimal midpoint, and an
    /// exact tie to even. (`String(format:)` or `vsnprintf` would give the same; their variadic arguments cost about
    /// 1.3 million instructions of conformance lookups at the first call.)
    static func roundedToHundredths(milliseconds ms: Int64) -> Int64 {
        let hundredths = ms / 10
        switch ms % 10 {
        case ..<5: return hundredths
        case 6...: return hundredths + 1
        default:
            let value = Double(ms) / 1000
            // value * 1000 - ms with a single rounding: its sign says which side of the midpoint the double is on.
            let offset = (-Double(ms)).addingProduct(value, 1000)
            return offset > 0 || (offset == 0 && hundredths % 2 == 1) ? hundredths + 1 : hundredths
        }
    }
}
