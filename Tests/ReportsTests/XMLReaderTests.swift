import Foundation
import ScenarioResults
import Testing

@testable import Reports

/// The XML reader behind `merge`: everything the JUnit writer produces reads back as written, the XML that other
/// tools write (references, CDATA, comments, CR LF) reads as the XML rules say, and broken or hostile input is a
/// located error, never a crash.
@Suite("XML reader")
struct XMLReaderTests {
    private func parse(_ text: String) throws(XMLReader.Failure) -> ReportMerge.Element {
        try XMLReader.parse(Array(text.utf8))
    }

    private func failure(_ text: String) -> XMLReader.Failure? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func whatTheJUnitWriterEscapesReadsBackAsWritten() throws {
        let awkward = "a <b> & \"c\" 'd'\nline two\u{7}\u{1F600} ]]> end"
        let location = SourceLocation(file: "s.yaml", line: 3, column: 5)
        let identity = ScenarioIdentity(name: awkward, location: location, suite: "Suite", tags: [])
        let failure = StepFailure(
            kind: .unexpectedReply,
            stepLabel: "step",
            location: location,
            expected: "250",
            actual: awkward
        )
        var transcript = Transcript()
        transcript.append(.server, awkward, elapsedMilliseconds: 1)
        let result = ScenarioResult(
            identity: identity,
            outcome: .failed(failure),
            server: "127.0.0.1:25",
            startedAt: Date(),
            duration: .milliseconds(3),
            transcript: transcript
        )
        var summary = RunSummary(startedAt: Date())
        summary.add(result.outcome)
        let xml = JUnitReport().render(RunResult(allResults: [result], summary: summary))

        let root = try parse(xml)
        #expect(root.name == "testsuites")
        let testcase = try #require(root.children.first?.children.first { $0.name == "testcase" })
        // Control characters other than tab and line ends cannot be in XML 1.0: the writer shows them as \xNN.
        let written = awkward.replacingOccurrences(of: "\u{7}", with: "\\x07")
        #expect(testcase.attribute("name") == written)
        let failureElement = try #require(testcase.children.first { $0.name == "failure" })
        #expect(failureElement.text.contains(written), "\(failureElement.text)")
    }

    @Test func attributesKeepDocumentOrderAndReferencesAreDecoded() throws {
        let root = try parse(
            #"<r z="1" a='it&apos;s' m="&lt;&#65;&#x1F600;&gt;&amp;&quot;">x &#233; &amp; y</r>"#
        )
        #expect(root.attributes.map(\.0) == ["z", "a", "m"])
        #expect(root.attribute("a") == "it's")
        #expect(root.attribute("m") == "<A\u{1F600}>&\"")
        #expect(root.text == "x \u{E9} & y")
    }

    @Test func prologCommentsCDATAAndLineEndsFollowTheXMLRules() throws {
        let text =
            "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!-- made by another tool -->\r\n"
            + "<?stylesheet x?><testsuite name=\"a\r\nb\tc\">\r\n<system-out><![CDATA[<raw> & \r\n]]></system-out>"
            + "<!-- inside --><testcase name=\"t\"/></testsuite>\n<!-- after -->\n"
        let root = try parse(text)
        #expect(root.name == "testsuite")
        // A line end or tab inside an attribute value is one space; CR LF in text is LF.
        #expect(root.attribute("name") == "a b c")
        #expect(root.children.map(\.name) == ["system-out", "testcase"])
        #expect(root.children[0].text == "<raw> & \n")
    }

    @Test(arguments: [
        ("<a>\n<b>\n</a>", "</a> does not close the open element", 3),
        ("<a>\n\n", "the document ends inside <a>", 3),
        ("<a x=\"1\" x=\"2\"/>", "x is given twice", 1),
        ("<a>&nbsp;</a>", "unknown entity &nbsp;", 1),
        ("<a>&#0;</a>", "&#0; is not a character", 1),
        ("<a>&#xD800;</a>", "&#xD800; is not a character", 1),
        ("<a>&#7;</a>", "&#7; is not a character", 1),
        ("<a>AT&T</a>", "& that starts no entity or character reference (write &amp;)", 1),
        ("<a x=\"<\"/>", "< in the value of x", 1),
        ("<a x=1/>", "expected a quoted value for x", 1),
        ("<a/>\n<b/>", "content after the root element", 2),
        ("<!DOCTYPE a [<!ENTITY b \"c\">]><a/>", "a document type declaration is not supported", 1),
        ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>", "only UTF-8 is supported", 1),
        ("<a><!-- open </a>", "a comment is not closed", 1),
        ("", "expected the root element", 1),
        ("<1a/>", "expected a name", 1),
    ])
    func brokenDocumentsAreLocatedErrors(_ text: String, _ reason: String, _ line: Int) {
        #expect(failure(text) == XMLReader.Failure(reason: reason, line: line))
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: XMLReader.Failure(reason: "not UTF-8", line: 1)) {
            try XMLReader.parse(Array("<a>".utf8) + [0xC3, 0x28] + Array("</a>".utf8))
        }
    }

    @Test func nestingIsBoundedWithoutExhaustingTheStack() throws {
        let deepest =
            String(repeating: "<a>", count: XMLReader.maximumDepth)
            + String(repeating: "</a>", count: XMLReader.maximumDepth)
        var element: ReportMerge.Element? = try parse(deepest)
        var depth = 0
        while let current = element {
            depth += 1
            element = current.children.first
        }
        #expect(depth == XMLReader.maximumDepth)
        // A hostile file: a million open tags are refused at the bound, quickly.
        let hostile = String(repeating: "<a>", count: 1_000_000)
        #expect(failure(hostile)?.reason == "elements nested deeper than \(XMLReader.maximumDepth)")
    }

    @Test func mergeNamesTheFileAndLineOfBrokenXML() {
        do {
            _ = try ReportMerge.merge([("shard-2.xml", Data("<testsuites>\n<testsuite>\n</testsuites>".utf8))])
            Issue.record("a broken file was merged")
        } catch {
            #expect(
                error.description
                    == "shard-2.xml: not well-formed XML (</testsuites> does not close the open element, line 3)"
            )
        }
    }
}
