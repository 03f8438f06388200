import ArgumentParser
import FlavorBuild
import FlavorEngine
import FlavorSys
#if canImport(Glibc)
import Glibc
#endif

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create an Ed25519 key pair: flavor-private.key (PKCS#8 PEM, 0600) and flavor-public.key (SPKI PEM).")

    @Option(help: "Directory for the two key files (created if missing).") var outDir: String
    @Option(help: "Derive the pair from this string instead of randomly (same rule as --key-seed).") var seed: String?
    @Flag(help: "Replace existing key files.") var force = false
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let pair = seed.map { Ed25519.keyPair(seedString: $0) } ?? Ed25519.randomKeyPair()
        let priv = outDir + "/flavor-private.key", pub = outDir + "/flavor-public.key"
        if !force, FS.exists(priv) || FS.exists(pub) {
            fail("\(outDir) already holds flavor-private.key or flavor-public.key (use --force to replace)")
        }
        do {
            try FS.mkdirs(outDir, 0o700)
            try FS.writeFileAtomically(priv, Array(KeyFiles.privatePEM(seed: pair.seed).utf8), mode: 0o600)
            try FS.writeFileAtomically(pub, Array(KeyFiles.publicPEM(publicKey: pair.publicKey).utf8), mode: 0o644)
        } catch {
            fail("\(error)")
        }
        let fp = Verifier.fingerprint(pair.publicKey)
        if global.json {
            printLine("{\n  \"private_key\": \"\(priv)\",\n  \"public_key\": \"\(pub)\",\n  \"fingerprint\": \"\(fp)\"\n}")
        } else if !global.quiet {
            printLine("wrote \(priv) (0600) and \(pub)\nfingerprint \(fp)")
        }
    }
}
