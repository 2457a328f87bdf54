// swift-tools-version:6.1
import PackageDescription

/// Settings every Spiegel target shares: Swift 6 language mode (set below), explicit imports,
/// `any` for existentials, and no warnings.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .unsafeFlags(["-warnings-as-errors"]),
]

let package = Package(
    name: "spiegel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spiegel", targets: ["spiegel"]),
        .executable(name: "spiegel-bench", targets: ["spiegel-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // libcurl, with a header of `static inline` wrappers for its variadic calls.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // libolm (Olm and Megolm), with a header that includes its public headers.
        .systemLibrary(
            name: "COlm",
            pkgConfig: "olm",
            providers: [.apt(["libolm-dev"])]
        ),
        // Understanding what a teacher writes: a normaliser, hashed word and character n-gram
        // features, a linear model per label learned from labelled examples, the screener and its
        // evaluation. Pure: no I/O, no Spiegel module. Optimised even in debug builds: every
        // test that loads the Prompts trains it.
        .target(
            name: "SpiegelUnderstanding",
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // Dialogue graphs: the YAML format, loader, linter, pure runner, drawing and conversation
        // scripts. Knows nothing of chat or disk beyond reading Prompts files.
        .target(
            name: "SpiegelDialogue",
            dependencies: [
                "SpiegelSchedule",
                "SpiegelUnderstanding",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Team reminders: pure scheduling (recurrence rules, DST, holidays, exactly-once state,
        // group split) and the Dutch date parser. Foundation and Synchronization only.
        .target(
            name: "SpiegelSchedule",
            swiftSettings: swiftSettings
        ),
        // The confidential vault: encrypted per-coachee journals, keys, export and erasure.
        // Knows nothing of chat or dialogue.
        // Waiting without polling: a cancellable FIFO lock, a condition to wait on, a one-time event.
        .target(
            name: "SpiegelAsync",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SpiegelVault",
            dependencies: [
                "SpiegelAsync",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Olm and Megolm behind protocols (OlmBackend), implemented on libolm; vodozemac can
        // replace it.
        .target(
            name: "SpiegelOlm",
            dependencies: ["COlm"],
            swiftSettings: swiftSettings
        ),
        // The coaching service: sessions per coachee over the dialogue graphs and the vault.
        // Knows nothing of chat transports or HTTP.
        .target(
            name: "SpiegelCoach",
            dependencies: [
                "SpiegelAsync",
                "SpiegelDialogue",
                "SpiegelSchedule",
                "SpiegelUnderstanding",
                "SpiegelVault",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Chat-facing I/O: the outbound HTTP client on libcurl's multi interface, the durable
        // outbox (kept in the vault), the transports' protocols, Matrix end-to-end encryption.
        .target(
            name: "SpiegelChat",
            dependencies: [
                "SpiegelAsync",
                "CCurl",
                "SpiegelOlm",
                "SpiegelVault",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The composition root: configuration, the HTTP server and its operational routes, doctor.
        .target(
            name: "SpiegelApp",
            dependencies: [
                "SpiegelAsync",
                "SpiegelChat",
                "SpiegelOlm",
                "SpiegelCoach",
                "SpiegelDialogue",
                "SpiegelSchedule",
                "SpiegelVault",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            // The try-out page, compiled into the binary: nothing to install beside it.
            resources: [
                .embedInCode("Tryout/Page/index.html"),
                .embedInCode("Tryout/Page/app.js"),
                .embedInCode("Tryout/Page/app.css"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "spiegel",
            dependencies: [
                "SpiegelApp",
                "SpiegelCoach",
                "SpiegelDialogue",
                "SpiegelUnderstanding",
                "SpiegelVault",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test support: a loopback HTTP/1.1 server for tests and benchmarks (echo, status, size,
        // hang and sink routes, a count of accepted TCP connections), a seeded random generator,
        // the way to the package's built executables, and a real Synapse homeserver with a small
        // Matrix client for end-to-end tests and benchmarks.
        .target(
            name: "SpiegelTestKit",
            dependencies: [
                "SpiegelChat",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "spiegel-bench",
            dependencies: [
                "SpiegelApp",
                "SpiegelChat",
                "SpiegelCoach",
                "SpiegelDialogue",
                "SpiegelUnderstanding",
                "SpiegelVault",
                "SpiegelTestKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpiegelUnderstandingTests",
            dependencies: ["SpiegelUnderstanding"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpiegelDialogueTests",
            dependencies: ["SpiegelDialogue", "SpiegelTestKit"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpiegelCoachTests",
            dependencies: [
                "SpiegelCoach",
                "SpiegelDialogue",
                "SpiegelTestKit",
                "SpiegelVault",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpiegelAsyncTests",
            dependencies: ["SpiegelAsync"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpiegelVaultTests",
            dependencies: [
                "SpiegelAsync",
                "SpiegelVault",
                "SpiegelTestKit",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpiegelChatTests",
            dependencies: [
                "SpiegelChat",
                "SpiegelTestKit",
                "SpiegelVault",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpiegelAppTests",
            dependencies: [
                "SpiegelApp",
                "SpiegelChat",
                "SpiegelCoach",
                "SpiegelSchedule",
                "SpiegelTestKit",
                "SpiegelVault",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpiegelScheduleTests",
            dependencies: ["SpiegelSchedule"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpiegelOlmTests",
            dependencies: ["SpiegelOlm"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
