import ArgumentParser
import FlavorEngine
import FlavorFormat
import FlavorSys

@main
struct Flavor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flavor",
        abstract: "Build, verify, inspect and unpack PSPF/2025 packages (Flavor Pack format).",
        discussion: """
        A package is one signed executable: native launcher + gzipped JSON metadata + slot table + \
        slots + an 8 KiB index at the end. Running it verifies it, extracts what it needs into a \
        cache (the workenv) and runs the application.
        """,
        version: Packer.toolVersion,
        subcommands: [PackCommand.self, VerifyCommand.self, InspectCommand.self, ExtractCommand.self,
                      ExtractAllCommand.self, KeygenCommand.self, WorkenvCommand.self, BenchCommand.self,
                      TrustCommand.self, PolicyCommand.self, InitCommand.self, DoctorCommand.self, CleanCommand.self])

    /// `flavor -V` prints the version as upstream's does (the parser itself knows only `--version`).
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        main(args == ["-V"] ? ["--version"] : args)
    }
}

/// The environment's configuration, read once for the whole command and passed down from here.
let processSettings = Settings.fromEnvironment()

struct GlobalOptions: ParsableArguments {
    @Flag(name: .long, help: "Machine-readable JSON on stdout.")
    var json = false

    @Flag(name: [.short, .long], help: "Print nothing but errors.")
    var quiet = false
}

/// Prints one error line and exits with `code` (1 unless the command table says otherwise).
func fail(_ message: String, code: Int32 = 1) -> Never {
    Process.printError("flavor: error: \(message)")
    Process.exit(code)
}

func printLine(_ s: String) { Process.printOut(s + "\n") }

/// The package at `path` with its header verified (index, metadata, signature), or exit `code`.
func openVerified(_ path: String, code: Int32 = 1) -> (PackageReader, Metadata) {
    let pkg: PackageReader
    do { pkg = try PackageReader(path: path) } catch { fail(error.message, code: code) }
    do { return (pkg, try Verifier.verifyHeader(pkg)) } catch { fail(error.message, code: code) }
}

/// The launcher that sits next to this flavor executable: the Embedded Swift build when
/// scripts/build-embedded-launcher made one (no Swift runtime: 1.9 MB, a faster warm start),
/// else the one SwiftPM builds.
func defaultLauncherPath() -> String? {
    guard let exe = try? FS.readLink("/proc/self/exe") else { return nil }
    let dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return ["flavor-launcher-embedded", "flavor-launcher"].map { dir + "/" + $0 }.first { FS.exists($0) }
}
