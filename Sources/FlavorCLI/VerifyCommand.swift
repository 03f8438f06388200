import ArgumentParser
import FlavorEngine
import FlavorFormat
import FlavorSys

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a package: trailer, index Adler-32, size, metadata SHA-256, Ed25519 signature, and every slot.",
        discussion: """
        Each slot's stored bytes are checked against the descriptor and against the full SHA-256 in \
        the signed metadata (upstream checks only the unsigned descriptor, so a forged slot with a \
        rewritten descriptor passes there; it fails here).
        Exit status: 0 valid, 1 invalid (the failing check and slot are named), 2 unreadable or not a package.
        """)

    @Argument(help: "The package file.") var package: String
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let pkg: PackageReader
        do { pkg = try PackageReader(path: package) } catch {
            if global.json {
                printLine(JSONValue.object([("package", .string(package)), ("valid", .bool(false)),
                                            ("error", .string(error.message))]).serializedString(pretty: true))
            }
            fail(error.message, code: error.kind == .unreadable ? 2 : 1)
        }
        let report = Verifier.fullReport(pkg)
        if global.json {
            let checks = report.checks.map { c in
                var o: [(String, JSONValue)] = [("check", .string(c.name)), ("passed", .bool(c.passed)), ("detail", .string(c.detail))]
                if let s = c.slot { o.append(("slot", .int(Int64(s)))) }
                return JSONValue.object(o)
            }
            printLine(JSONValue.object([("package", .string(package)), ("valid", .bool(report.valid)),
                                        ("checks", .array(checks))]).serializedString(pretty: true))
        } else if !global.quiet {
            for c in report.checks {
                let slot = c.slot.map { "slot \($0) " } ?? ""
                printLine("\(c.passed ? "ok  " : "FAIL") \(slot)\(c.name): \(c.detail)")
            }
            printLine(report.valid ? "\(package): valid" : "\(package): INVALID")
        }
        if let f = report.firstFailure {
            if !global.json {
                let slot = f.slot.map { " slot \($0)" } ?? ""
                Process.printError("flavor: \(package):\(slot) \(f.name) failed: \(f.detail)")
            }
            throw ExitCode(1)
        }
    }
}
