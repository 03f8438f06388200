// swift-tools-version:6.0
import PackageDescription

// Layering (docs/ARCHITECTURE.md): C modules are imported only by FlavorSys / FlavorRing;
// FlavorFormat is pure Swift; nothing below FlavorBuild imports Foundation.
let staticC: [LinkerSetting] = [
    // No pkgConfig on the system libraries: it would add -lsodium etc. and pick the .so.
    .linkedLibrary(":libsodium.a"), .linkedLibrary(":libdeflate.a"),
    .linkedLibrary(":libzstd.a"), .linkedLibrary(":libz.a"),
]

let package = Package(
    name: "flavor",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flavor", targets: ["FlavorCLI"]),
        .executable(name: "flavor-launcher", targets: ["FlavorLauncher"]),
        .executable(name: "flavor-bench", targets: ["FlavorBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CSodium"),
        .systemLibrary(name: "CDeflate"),
        .systemLibrary(name: "CZstd"),
        .systemLibrary(name: "CURing"),
        .systemLibrary(name: "CZlib"),
        // Our SHA-256 (SHA-NI when present): no CPUID at process start, unlike libcrypto's constructor.
        .target(name: "CFlavorSHA256"),

        .target(name: "FlavorSys",
                dependencies: ["FlavorFormat", "CSodium", "CDeflate", "CZstd", "CFlavorSHA256", "CZlib"],
                linkerSettings: staticC),
        .target(name: "FlavorRing", dependencies: ["CURing", "FlavorFormat"],
                linkerSettings: [.linkedLibrary(":liburing.a")]),
        .target(name: "FlavorFormat"),
        .target(name: "FlavorEngine", dependencies: ["FlavorFormat", "FlavorSys", "FlavorRing"]),
        .target(name: "FlavorBuild", dependencies: ["FlavorEngine", "FlavorFormat", "FlavorSys"]),
        // Python apps from pyproject.toml: pip at build time, a relocatable CPython, its shared libraries.
        .target(name: "FlavorPython", dependencies: ["FlavorBuild", "FlavorEngine", "FlavorFormat", "FlavorSys",
                                                     .product(name: "TOMLKit", package: "TOMLKit")]),
        .executableTarget(name: "FlavorCLI",
                          dependencies: ["FlavorBuild", "FlavorPython", "FlavorEngine", "FlavorFormat", "FlavorSys",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "FlavorLauncher",
                          dependencies: ["FlavorEngine", "FlavorFormat", "FlavorSys"],
                          linkerSettings: [
                              .unsafeFlags(["-static-executable"]),
                              // Every byte of the launcher is in every package: drop symbols and unused sections.
                              .unsafeFlags(["-Xlinker", "--gc-sections", "-Xlinker", "-s"], .when(configuration: .release)),
                          ]),

        .testTarget(name: "FlavorFormatTests", dependencies: ["FlavorFormat", "FlavorTestSupport"]),
        .testTarget(name: "FlavorSysTests", dependencies: ["FlavorSys", "FlavorTestSupport"]),
        .testTarget(name: "FlavorEngineTests", dependencies: ["FlavorEngine", "FlavorBuild", "FlavorFormat", "FlavorSys"]),
        .testTarget(name: "FlavorCLITests", dependencies: ["FlavorFormat", "FlavorEngine", "FlavorBuild", "FlavorSys"]),
        .testTarget(name: "FlavorPythonTests", dependencies: ["FlavorPython", "FlavorBuild", "FlavorFormat"]),
        // Benchmark harness (docs/PERFORMANCE.md): Foundation plus our SHA-256; its tests run the built executable.
        .executableTarget(name: "FlavorBench", dependencies: ["FlavorTestSupport", "CFlavorSHA256"], path: "Benchmarks/FlavorBench"),
        // Seeded generator shared by the harness's corpora and the fuzz-style tests; runTool for the library tests.
        .target(name: "FlavorTestSupport", path: "Tests/FlavorTestSupport"),
        .testTarget(name: "FlavorBenchTests", dependencies: []),
        // Fuzz targets (docs/RELIABILITY.md): libFuzzer when scripts/fuzz builds them, corpus replay otherwise.
        .systemLibrary(name: "CFuzzDriver", path: "Tests/CFuzzDriver"),
        .executableTarget(name: "flavor-fuzz", dependencies: ["FlavorEngine", "FlavorBuild", "FlavorFormat", "FlavorSys", "CFuzzDriver"],
                          path: "Tests/FlavorFuzz", exclude: ["Corpus", "Regressions", "make-seeds"]),
    ]
)
