public import Foundation

/// Executables of this package that `swift build` put beside the test bundle, for tests that run
/// them as real processes.
public enum BuiltExecutable {
    /// The path of product `name`, or `nil` when it has not been built.
    public static func find(_ name: String) -> URL? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug"),
        ]
        return candidates.map { $0.appendingPathComponent(name).standardizedFileURL }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
