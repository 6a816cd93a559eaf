import NIOCore
import SMTPWire

/// What the mock reads from clients, against arbitrary bytes: command lines through the framer (with its limit),
/// their verbs and paths, and DATA content through the DATA reader with each bare line ending policy (the batch
/// path the mock uses, checked against the line-at-a-time one). Nothing may crash, and nothing may be kept beyond
/// the limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 2 else { return 0 }
    let policy = BareLineEndingPolicy.allCases[Int(bytes[0]) % BareLineEndingPolicy.allCases.count]
    let chunk = Int(bytes[1] % 31) + 1
    var framer = LineFramer(maxLineLength: 128)
    var dataFramer = LineFramer(maxLineLength: 256)
    var receiver: DataReceiver?
    var buffer = ByteBuffer()
    var index = 2
    while index < bytes.count {
        let end = min(bytes.count, index + chunk)
        buffer.writeBytes(bytes[index..<end])
        index = end
        while true {
            if receiver != nil {
                // The mock's path: every line that has arrived, in one call (plain lines copied in runs). It must
                // agree with the same lines fed one at a time, in outcome and in the bytes it leaves.
                var shadow = receiver!
                var shadowFramer = dataFramer
                var shadowBuffer = buffer
                var expected: DataReceiver.Outcome?
                while expected == nil, let line = shadowFramer.next(from: &shadowBuffer) {
                    expected = shadow.receive(line)
                }
                let outcome = receiver!.receiveLines(from: &buffer, framer: &dataFramer)
                precondition(outcome == expected, "receiveLines and receive disagree")
                precondition(buffer.readableBytesView.elementsEqual(shadowBuffer.readableBytesView))
                guard let outcome else { break }
                if case .message(let content) = outcome { precondition(content.readableBytes <= 1024) }
                receiver = nil
                continue
            }
            guard let framed = framer.next(from: &buffer) else { break }
            guard case .line(let line, _) = framed else { continue }
            precondition(line.readableBytes <= 128, "a command line over the limit")
            let command = SMTPCommandLine(line)
            switch command.verb {
            case .mail?, .rcpt?:
                let argument = command.argument
                if let colon = argument.firstIndex(of: ":") {
                    _ = try? MailPath(parsing: String(argument[argument.index(after: colon)...]))
                }
            case .data?:
                receiver = DataReceiver(policy: policy, maxSize: 1024)
            default:
                _ = EnhancedStatusCode(prefixOf: command.argument)
            }
        }
        precondition(buffer.readableBytes <= 256 + 2 + chunk, "the readers buffered \(buffer.readableBytes) bytes")
    }
    return 0
}

/// SwiftPM links an executable's `main` to `fuzz_mock_readers_main`; hand over to libFuzzer's driver from there.
@_cdecl("fuzz_mock_readers_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzz(data!, size) }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
