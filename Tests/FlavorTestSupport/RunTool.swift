import Foundation

/// Runs a program to completion and returns its exit status and its output (stdout and stderr
/// together): the small helper of the library tests that call system tools (tar, gcc, nm).
public func runTool(_ exe: String, _ arguments: [String], cwd: URL? = nil) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = arguments
    if let cwd { p.currentDirectoryURL = cwd }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self))
}
