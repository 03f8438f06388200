import FlavorEngine
import FlavorFormat
import FlavorSys

// The stub at offset 0 of every package: find our own trailer, verify, prepare the workenv, exec.
// Everything lives in FlavorEngine.Launch; this file only picks the mode and maps errors to exits.
let args = Process.userArguments()
let settings = Settings.fromEnvironment()
guard let exe = Exec.selfPath() else {
    Process.printError("flavor-launcher: cannot resolve /proc/self/exe")
    Process.exit(LauncherExit.io)
}

// One mapping of ourselves serves every mode. Without a trailer this is the bare launcher:
// it answers --version / help (upstream builders call `LAUNCHER --version`) and refuses the rest.
let package: PackageReader
do {
    package = try PackageReader(path: exe)
} catch {
    if error.kind != .unreadable { Process.printError("flavor-launcher: \(error.message)\(LauncherExit.hint(for: error))"); Process.exit(LauncherExit.code(for: error)) }
    switch args.first {
    case "--version", "version": Process.printOut("flavor-launcher \(Launch.version)\n"); Process.exit(0)
    case "--help", "help", "-h": Process.printOut(Launch.usage); Process.exit(0)
    default:
        Process.printError("flavor-launcher: \(exe) carries no PSPF/2025 package (a bare launcher, or a truncated download)\n" + Launch.usage)
        Process.exit(LauncherExit.format)
    }
}

do {
    let code = settings.launcherCLI
        ? try Launch.cli(package, args: args, settings: settings)
        : try Launch.run(package, args: args, settings: settings)
    Process.exit(code)
} catch {
    Process.printError("flavor-launcher: \(error.message)\(LauncherExit.hint(for: error))")
    Process.exit(LauncherExit.code(for: error))
}
