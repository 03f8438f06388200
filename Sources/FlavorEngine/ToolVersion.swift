/// The tool version, apart from Packer so that the launcher needs none of the pack-only files.
public enum ToolVersion {
    public static let current = "0.1.0"
}
