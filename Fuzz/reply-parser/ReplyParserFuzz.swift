import NIOCore
import SMTPWire

/// The reply parser against arbitrary bytes, fed in chunks whose sizes the input chooses: it must never crash,
/// never return a reply that breaks RFC 5321 4.2's shape, and never keep a line over its limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let chunk = Int(first % 17) + 1
    var parser = ReplyParser(maxLineLength: 64, maxLines: 8)
    var buffer = ByteBuffer()
    var index = 1
    while index < bytes.count {
        let end = min(bytes.count, index + chunk)
        buffer.writeBytes(bytes[index..<end])
        index = end
        while true {
            do {
                guard let reply = try parser.parse(&buffer) else { break }
                precondition((200...599).contains(reply.code), "reply code \(reply.code)")
                precondition(!reply.rawLines.isEmpty && reply.rawLines.count <= 8, "lines \(reply.rawLines.count)")
                precondition(reply.rawLines.allSatisfy { $0.count <= 64 }, "a line over the limit")
                _ = reply.text
                _ = reply.summary
                _ = reply.enhancedCode
                _ = EHLOCapabilities(reply: reply)
            } catch {
                _ = error.description
                parser = ReplyParser(maxLineLength: 64, maxLines: 8)
            }
        }
        precondition(buffer.readableBytes <= 64 + 1 + chunk, "the parser buffered \(buffer.readableBytes) bytes")
    }
    return 0
}

/// SwiftPM links an executable's `main` to `fuzz_reply_parser_main`; hand over to libFuzzer's driver from there.
@_cdecl("fuzz_reply_parser_main")
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
