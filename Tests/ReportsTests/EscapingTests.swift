import Foundation
import ScenarioResults
import Testing

@testable import Reports

/// The XML, JSON and TAP escapers walk UTF-8 bytes and copy unmarked runs whole. These tests hold them to the rules
/// as they were written before, one scalar at a time, over every short mix of the characters each rule treats
/// specially.
@Suite("Escaping in reports")
struct EscapingTests {
    /// Each special character of either format, beside plain ASCII and multi-byte neighbours that share a lead byte
    /// with a special one (U+2027 and U+FFFD) or none (é, U+1F600).
    private static let alphabet: [String] = [
        "a", "&", "<", ">", "\"", "'", "\\", "\n", "\r", "\t", "\u{0}", "\u{1B}", "\u{1F}", "\u{7F}", "é",
        "\u{2027}", "\u{2028}", "\u{2029}", "\u{FFFD}", "\u{FFFE}", "\u{FFFF}", "\u{1F600}",
    ]

    /// Every string of up to three characters from the alphabet: 11,155 of them.
    private static let shortMixes: [String] = {
        var all = [""]
        var previous = [""]
        for _ in 1...3 {
            previous = previous.flatMap { prefix in alphabet.map { prefix + $0 } }
            all += previous
        }
        return all
    }()

    @Test func xmlTextAndAttributesEscapeAsTheScalarRule() {
        for text in Self.shortMixes {
            #expect(XMLEscaping.text(text) == Self.xmlRule(text, attribute: false), "\(Array(text.unicodeScalars))")
            #expect(XMLEscaping.attribute(text) == Self.xmlRule(text, attribute: true), "\(Array(text.unicodeScalars))")
            var bytes = Array("<x>".utf8)
            XMLEscaping.appendText(text, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == "<x>" + Self.xmlRule(text, attribute: false))
        }
    }

    @Test func jsonStringsEscapeAsTheScalarRule() {
        for text in Self.shortMixes {
            #expect(JSONValue.string(text).text == Self.jsonRule(text), "\(Array(text.unicodeScalars))")
        }
    }

    @Test func tapScalarsAreQuotedAsTheScalarRule() {
        for text in Self.shortMixes {
            #expect(TAPReport.quoted(text) == Self.tapRule(text), "\(Array(text.unicodeScalars))")
        }
    }

    @Test func aTranscriptWithLongRunsBetweenMarksEscapesAsTheScalarRule() {
        let line = "<- 250-mail.example.org Hello [127.0.0.1] & welcome \"back\"\r\n"
        let transcript = String(repeating: line, count: 300) + "\u{FFFE}\u{1B}[0m tail é\u{2028}"
        #expect(XMLEscaping.text(transcript) == Self.xmlRule(transcript, attribute: false))
        #expect(XMLEscaping.attribute(transcript) == Self.xmlRule(transcript, attribute: true))
        #expect(JSONValue.string(transcript).text == Self.jsonRule(transcript))
        #expect(TAPReport.quoted(transcript) == Self.tapRule(transcript))
    }

    @Test func shortDurationsRoundAsPrintfDoes() {
        let edges = [9_995, 10_005, 59_999, 1_000_125, 1_000_005, 123_456_785]
        for milliseconds in Array(0...5_000) + Array(86_395_000...86_405_000) + edges {
            let expected =
                milliseconds < 1000 ? "\(milliseconds) ms" : String(format: "%.2f s", Double(milliseconds) / 1000)
            #expect(DurationText.short(.milliseconds(milliseconds)) == expected)
        }
        #expect(DurationText.short(.milliseconds(-5)) == "0 ms")
    }

    @Test func secondsWithThreeDecimalsAreTheOldNumberFormat() {
        for milliseconds in Array(0...2_000) + [59_999, 86_400_000] {
            #expect(
                DurationText.seconds(.milliseconds(milliseconds)) == String(format: "%.3f", Double(milliseconds) / 1000)
            )
            #expect(
                JSONValue.seconds(.milliseconds(milliseconds)).text
                    == String(format: "%.3f", Double(milliseconds) / 1000)
            )
        }
    }

    // MARK: - The rules as written before, one scalar at a time

    private static func xmlRule(_ string: String, attribute: Bool) -> String {
        var out = ""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where attribute: out += "&quot;"
            case "\n" where attribute: out += "&#10;"
            case "\r": out += attribute ? "&#13;" : "\n"
            case "\t": out += attribute ? "&#9;" : "\t"
            case "\n": out += "\n"
            default:
                switch scalar.value {
                case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF:
                    out.unicodeScalars.append(scalar)
                default:
                    let hex = String(scalar.value, radix: 16)
                    out += scalar.value <= 0xFF ? "\\x" + (hex.count == 1 ? "0" : "") + hex : "\\u{\(hex)}"
                }
            }
        }
        return out
    }

    private static func tapRule(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + ConsoleReport.hexByte(UInt8(scalar.value))
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func jsonRule(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x2028...0x2029).contains(scalar.value) {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

@Suite("Transcript text")
struct TranscriptTextTests {
    @Test func everyLineIsPaddedMarkedAndJoinedAsBefore() {
        var transcript = Transcript()
        for (ms, direction, text) in [
            (0, Transcript.Direction.client, "EHLO a"), (7, .server, "250-x"), (123_456, .note, "note"),
            (1_234_567, .server, ""), (42, .client, "QUIT"),
        ] {
            transcript.append(direction, text, elapsedMilliseconds: ms)
        }
        #expect(transcript.rendered() == Self.oldRendering(transcript))
        #expect(
            transcript.rendered().split(separator: "\n", omittingEmptySubsequences: false).first
                == "[     0 ms] C: EHLO a"
        )
        #expect(Transcript().rendered() == "")
    }

    @Test func aCutTranscriptEndsWithItsNoteAsBefore() {
        var cut = Transcript()
        let line = String(repeating: "x", count: 1000)
        while cut.droppedLines < 3 { cut.append(.server, line, elapsedMilliseconds: 9) }
        #expect(cut.rendered() == Self.oldRendering(cut))
        #expect(cut.rendered().hasSuffix("\n# transcript cut at 256 KiB: 3 more lines not shown"))
    }

    /// Room reserved up front is only room: the transcript starts empty, and past the reserved size it fills,
    /// renders and compares as one grown from nothing.
    @Test func aTranscriptWithReservedRoomIsAnyOtherTranscript() {
        var reserved = Transcript(reservingLines: 4)
        var grown = Transcript()
        #expect(reserved == grown && reserved.entries.isEmpty)
        for index in 0..<10 {
            reserved.append(index.isMultiple(of: 2) ? .client : .server, "line \(index)", elapsedMilliseconds: index)
            grown.append(index.isMultiple(of: 2) ? .client : .server, "line \(index)", elapsedMilliseconds: index)
        }
        #expect(reserved == grown)
        #expect(reserved.entries.count == 10)
        #expect(reserved.rendered() == grown.rendered())
    }

    /// `rendered()` as it was written before: each line built by interpolation, then joined.
    private static func oldRendering(_ transcript: Transcript) -> String {
        var lines = transcript.entries.map { entry in
            let ms = String(entry.elapsedMilliseconds)
            let padded = String(repeating: " ", count: max(0, 6 - ms.count)) + ms
            let marker = entry.direction == .note ? "#" : entry.direction.rawValue + ":"
            return "[\(padded) ms] \(marker) \(entry.text)"
        }
        if transcript.droppedLines > 0 {
            lines.append(
                "# transcript cut at \(Transcript.maxBytes / 1024) KiB: \(transcript.droppedLines) more lines not shown"
            )
        }
        return lines.joined(separator: "\n")
    }
}
