import CFuzzDriver
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

// flavor-fuzz TARGET [libFuzzer flags and corpus dirs]   (built by scripts/fuzz with libFuzzer)
// flavor-fuzz TARGET --replay PATH…                      (any build: runs each file once)
// The replay mode is how the committed seeds and every crash found stay regression tests in the
// ordinary suite (FuzzReplayTests), without a sanitizer build.

func usage() -> Never {
    var text = "usage: flavor-fuzz TARGET [libFuzzer args] | flavor-fuzz TARGET --replay PATH…\ntargets:\n"
    for t in Target.allCases { text += "  \(t.rawValue + String(repeating: " ", count: max(0, 9 - t.rawValue.count))) \(t.summary)\n" }
    Process.printError(text)
    Process.exit(2)
}

nonisolated(unsafe) var selected = Target.json

let args = CommandLine.arguments
guard args.count >= 2, let target = Target(rawValue: args[1]) else { usage() }
selected = target

if args.count >= 3 && args[2] == "--replay" {
    var files = [String]()
    for p in args.dropFirst(3) {
        if FS.isDirectory(p) {
            for n in (try? FS.listDirectory(p)) ?? [] where !n.hasPrefix(".") { files.append(p + "/" + n) }
        } else {
            files.append(p)
        }
    }
    for f in files {
        guard let data = try? FS.readFile(f, limit: 16 << 20) else { Process.printError("flavor-fuzz: cannot read \(f)"); Process.exit(2) }
        target.run(data)
    }
    Process.printOut("flavor-fuzz \(target.rawValue): \(files.count) inputs replayed, no failure\n")
    Process.exit(0)
}

guard flavor_fuzz_driver_linked() != 0 else {
    Process.printError("flavor-fuzz: this build has no libFuzzer; use scripts/fuzz, or --replay")
    Process.exit(2)
}
// libFuzzer sees argv without the target name.
var argv: [UnsafeMutablePointer<CChar>?] = [strdup(args[0])] + args.dropFirst(2).map { strdup($0) } + [nil]
var argc = Int32(argv.count - 1)
let code = argv.withUnsafeMutableBufferPointer { buf -> Int32 in
    var p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buf.baseAddress
    return flavor_fuzz_run_driver(&argc, &p) { data, size in
        selected.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}
Process.exit(code)
