/// A problem with what the user gave us: manifest, key file, source path. Always names the file.
public struct BuildError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
