// A minimal stand-in for the Glibc overlay in Embedded Swift on Linux (the real one is not
// built for Embedded). Provides what the full overlay and stdlib give FlavorSys/FlavorEngine.
@_exported import CGlibcShim

public var errno: Int32 {
    get { flavor_shim_errno_get() }
    set { flavor_shim_errno_set(newValue) }
}

// open/openat/fcntl are variadic in C and not imported; the real overlay declares these.
public func open(_ path: UnsafePointer<CChar>, _ oflag: Int32) -> Int32 { flavor_shim_open(path, oflag, 0) }
public func open(_ path: UnsafePointer<CChar>, _ oflag: Int32, _ mode: mode_t) -> Int32 { flavor_shim_open(path, oflag, mode) }
public func openat(_ fd: Int32, _ path: UnsafePointer<CChar>, _ oflag: Int32) -> Int32 { flavor_shim_openat(fd, path, oflag, 0) }
public func openat(_ fd: Int32, _ path: UnsafePointer<CChar>, _ oflag: Int32, _ mode: mode_t) -> Int32 { flavor_shim_openat(fd, path, oflag, mode) }
public func fcntl(_ fd: Int32, _ cmd: Int32) -> Int32 { flavor_shim_fcntl(fd, cmd, 0) }
public func fcntl(_ fd: Int32, _ cmd: Int32, _ value: Int32) -> Int32 { flavor_shim_fcntl(fd, cmd, value) }

public var MAP_FAILED: UnsafeMutableRawPointer! { flavor_shim_map_failed() }

// Embedded Swift has no CommandLine; argc/argv are captured by an ELF constructor (shim.c).
public enum CommandLine {
    public static var argc: Int32 { flavor_shim_argc }
    public static var unsafeArgv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> { flavor_shim_argv! }
    public static var arguments: [String] {
        (0..<Int(argc)).map { String(cString: unsafeArgv[$0]!) }
    }
}

// The real overlay types these as mode_t (clang imports the macros as Int32).
public var S_IFMT: mode_t { mode_t(CGlibcShim.S_IFMT) }
public var S_IFREG: mode_t { mode_t(CGlibcShim.S_IFREG) }
public var S_IFDIR: mode_t { mode_t(CGlibcShim.S_IFDIR) }
public var S_IFLNK: mode_t { mode_t(CGlibcShim.S_IFLNK) }
public var S_IFIFO: mode_t { mode_t(CGlibcShim.S_IFIFO) }
public var S_IFCHR: mode_t { mode_t(CGlibcShim.S_IFCHR) }
public var S_IFBLK: mode_t { mode_t(CGlibcShim.S_IFBLK) }
public var S_IFSOCK: mode_t { mode_t(CGlibcShim.S_IFSOCK) }

// The real Glibc module gives a non-optional pointer (clang here imports char** as optional).
public var environ: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> { flavor_shim_environ()! }
