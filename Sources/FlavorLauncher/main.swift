import FlavorEngine
import FlavorFormat
import FlavorSys

// The stub at offset 0 of every package: find our own trailer, verify, prepare the workenv, exec.
// Everything lives in FlavorEngine.Launch; this file only picks the mode and maps errors to exits.
let args = Array(CommandLine.arguments.dropFirst())
let settings = Settings.current
guard let exe = Exec.selfPath() else {
    Process.printError("flavor-launcher: cannot resolve /proc/self/exe")
    Process.exit(LauncherExit.io)
}

// A bare launcher (no trailer) answers --version / help, as upstream builders expect.
if !PackageReader.hasTrailer(path: exe) {
    if args.first == "--version" || args.first == "version" {
        Process.printOut("flavor-launcher \(Launch.version)\n"); Process.exit(0)
    }
    Process.printOut(Launch.usage)
    Process.exit(args.isEmpty || args.first == "--help" || args.first == "help" ? 0 : LauncherExit.usage)
}

do {
    let code = settings.launcherCLI
        ? try Launch.cli(exe: exe, args: args, settings: settings)
        : try Launch.run(exe: exe, args: args, settings: settings)
    Process.exit(code)
} catch {
    Process.printError("flavor-launcher: \(error.message)\(LauncherExit.hint(for: error))")
    Process.exit(LauncherExit.code(for: error))
}
