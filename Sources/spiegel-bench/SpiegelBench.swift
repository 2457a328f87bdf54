import ArgumentParser

/// `spiegel-bench`: the benchmarks behind `make bench`.
@main
struct SpiegelBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spiegel-bench",
        abstract: "Spiegel's benchmarks: the HTTP client against curl, and the dialogue runner.",
        subcommands: [HTTPClientBenchmark.self, DialogueBenchmark.self, ScreeningBenchmark.self, VaultBenchmark.self, CoachBenchmark.self, WebhookBenchmark.self, MatrixBenchmark.self, VaultCrashWriter.self],
        defaultSubcommand: HTTPClientBenchmark.self
    )
}
