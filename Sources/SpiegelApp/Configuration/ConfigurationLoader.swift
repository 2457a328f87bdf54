import Foundation
import Yams

/// Where a configured value came from, for `spiegel doctor`.
public enum ConfigurationOrigin: Sendable, Equatable, CustomStringConvertible {
    case builtInDefault
    case file(path: String, line: Int)
    case environment(variable: String)
    case commandLine(option: String)

    public var description: String {
        switch self {
        case .builtInDefault: "built-in default"
        case .file(let path, let line): "\(path):\(line)"
        case .environment(let variable): "environment variable \(variable)"
        case .commandLine(let option): "command line \(option)"
        }
    }
}

/// A configuration with the file it came from and the origin of every value.
public struct LoadedConfiguration: Sendable {
    /// The configuration in effect.
    public var configuration: SpiegelConfiguration
    /// The YAML file read, or `nil` when only built-in defaults and the environment apply.
    public var file: String?
    /// The origin of each key that is not a built-in default, by dotted key.
    public var origins: [String: ConfigurationOrigin]

    /// Where the value of `key` came from.
    public func origin(of key: ConfigurationKey) -> ConfigurationOrigin {
        self.origins[key.path] ?? .builtInDefault
    }
}

/// Reads the configuration: built-in defaults, then the YAML file, then `SPIEGEL_…` environment
/// variables, then command-line options, each overriding the one before.
public enum ConfigurationLoader {
    /// The file read when `--config` is not given, if it exists.
    public static let defaultFile = "./spiegel.yaml"

    /// Loads the configuration.
    /// - Parameters:
    ///   - file: the `--config` path; when `nil`, ``defaultFile`` is read if it exists.
    ///   - dataDirectory: the `--data-dir` option, which wins over everything else.
    ///   - environment: the process environment.
    ///   - defaultFile: the file read when `file` is `nil`, if it exists.
    /// - Throws: ``ConfigurationError`` naming the file, line, column and key at fault.
    public static func load(
        file: String?,
        dataDirectory: String? = nil,
        environment: [String: String],
        defaultFile: String = Self.defaultFile
    ) throws(ConfigurationError) -> LoadedConfiguration {
        var loaded = LoadedConfiguration(configuration: SpiegelConfiguration(), file: nil, origins: [:])
        if let path = file ?? (FileManager.default.fileExists(atPath: defaultFile) ? defaultFile : nil) {
            try self.read(file: path, into: &loaded)
            // A configuration file is a deployment: the try-out chat only where it says so.
            if loaded.origins["tryout.enabled"] == nil {
                loaded.configuration.tryout.enabled = false
            }
        }
        for key in ConfigurationKey.all {
            guard let text = environment[key.environmentVariable] else { continue }
            guard key.assign(text, to: &loaded.configuration) else {
                throw ConfigurationError(
                    .invalidValue, source: "environment variable \(key.environmentVariable)", key: key.path,
                    message: "expected \(key.expected)"
                )
            }
            loaded.origins[key.path] = .environment(variable: key.environmentVariable)
        }
        if let dataDirectory {
            guard !dataDirectory.isEmpty else {
                throw ConfigurationError(.invalidValue, source: "--data-dir", message: "expected a directory path")
            }
            loaded.configuration.dataDirectory = dataDirectory
            loaded.origins["data_dir"] = .commandLine(option: "--data-dir")
        }
        return loaded
    }

    private static func read(file path: String, into loaded: inout LoadedConfiguration) throws(ConfigurationError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError(.fileNotFound, source: path, message: "no such file; write one (see deploy/) or leave out --config to use the built-in defaults")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(.unreadable, source: path, message: "cannot read the file as UTF-8 text; check its permissions")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw Self.syntaxError(error, file: path)
        } catch {
            throw ConfigurationError(.syntax, source: path, message: "not valid YAML")
        }
        loaded.file = path
        guard let root else { return }  // An empty file: built-in defaults.
        var reader = MappingReader(file: path, configuration: loaded.configuration, origins: loaded.origins)
        try reader.read(root, prefix: "")
        loaded.configuration = reader.configuration
        loaded.origins = reader.origins
    }

    private static func syntaxError(_ error: YamlError, file: String) -> ConfigurationError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let message = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return ConfigurationError(.syntax, source: file, line: mark.line, column: mark.column, message: message)
        case .duplicatedKeysInMapping(let duplicates, let context):
            // The context holds the whole file: only its mark is used.
            return ConfigurationError(
                .duplicateKey, source: file, line: context.mark.line, column: context.mark.column,
                key: duplicates.first, message: "given more than once in one mapping; keep one"
            )
        default:
            return ConfigurationError(.syntax, source: file, message: "not valid YAML")
        }
    }
}

/// Walks the YAML tree and applies each scalar to the key it names.
private struct MappingReader {
    let file: String
    var configuration: SpiegelConfiguration
    var origins: [String: ConfigurationOrigin]

    mutating func read(_ node: Node, prefix: String) throws(ConfigurationError) {
        guard let mapping = node.mapping else {
            throw self.error(.invalidValue, at: node, key: prefix.isEmpty ? nil : prefix, "expected a mapping of keys to values")
        }
        for (keyNode, valueNode) in mapping {
            guard let name = keyNode.scalar?.string else {
                throw self.error(.invalidValue, at: keyNode, key: prefix.isEmpty ? nil : prefix, "expected a plain key")
            }
            let path = prefix.isEmpty ? name : "\(prefix).\(name)"
            if let key = ConfigurationKey.all.first(where: { $0.path == path }) {
                try self.apply(key, valueNode)
            } else if ConfigurationKey.all.contains(where: { $0.path.hasPrefix(path + ".") }) {
                try self.read(valueNode, prefix: path)
            } else {
                throw self.error(.unknownKey, at: keyNode, key: path, "unknown key; \(Self.knownKeys(under: prefix))")
            }
        }
    }

    /// A scalar, or for a key that takes several values also a list of scalars.
    private mutating func apply(_ key: ConfigurationKey, _ node: Node) throws(ConfigurationError) {
        let text: String?
        if key.isList, let sequence = node.sequence {
            let items = sequence.map { $0.scalar?.string }
            text = items.contains(nil) ? nil : items.compactMap { $0 }.joined(separator: ",")
        } else {
            text = node.scalar?.string
        }
        guard let text, key.assign(text, to: &self.configuration) else {
            throw self.error(.invalidValue, at: node, key: key.path, "expected \(key.expected)")
        }
        self.origins[key.path] = .file(path: self.file, line: node.mark?.line ?? 0)
    }

    private static func knownKeys(under prefix: String) -> String {
        let start = prefix.isEmpty ? "" : prefix + "."
        var names: [String] = []
        for key in ConfigurationKey.all where key.path.hasPrefix(start) {
            let name = String(key.path.dropFirst(start.count).prefix { $0 != "." })
            if !names.contains(name) { names.append(name) }
        }
        return "known keys here: " + names.joined(separator: ", ")
    }

    private func error(_ code: ConfigurationError.Code, at node: Node, key: String?, _ message: String) -> ConfigurationError {
        ConfigurationError(code, source: self.file, line: node.mark?.line, column: node.mark?.column, key: key, message: message)
    }
}
