import Foundation
import SpiegelVault
import Yams

/// An application-service registration: the file the homeserver reads (`app_service_config_files`
/// in Synapse) and Spiegel reads its tokens from.
public struct MatrixRegistration: Sendable, Equatable {
    public var id: String
    /// Where the homeserver reaches Spiegel, such as `http://127.0.0.1:8080`.
    public var url: String
    /// Spiegel's token towards the homeserver.
    public var asToken: String
    /// The homeserver's token towards Spiegel.
    public var hsToken: String
    /// The bot's localpart: `spiegel` for `@spiegel:school.example`.
    public var senderLocalpart: String
    /// Whether the registration asks for to-device messages, device lists and key counts in
    /// transactions (`receive_ephemeral` and `org.matrix.msc3202`), which encryption needs.
    public var receivesDeviceMessages = true

    /// A new registration with fresh random tokens (256 bits each).
    public static func generate(id: String = "spiegel", url: String, senderLocalpart: String = "spiegel") -> MatrixRegistration {
        MatrixRegistration(id: id, url: url, asToken: Self.randomToken(), hsToken: Self.randomToken(), senderLocalpart: senderLocalpart)
    }

    public init(id: String, url: String, asToken: String, hsToken: String, senderLocalpart: String) {
        self.id = id
        self.url = url
        self.asToken = asToken
        self.hsToken = hsToken
        self.senderLocalpart = senderLocalpart
    }

    /// The registration as YAML. The bot's user is its only (exclusive) user; no aliases, no rooms.
    public func yaml(serverName: String) -> String {
        let escapedServer = NSRegularExpression.escapedPattern(for: serverName)
        let escapedLocalpart = NSRegularExpression.escapedPattern(for: self.senderLocalpart)
        return """
            # Spiegel's application-service registration. Give this file to the homeserver (Synapse:
            # app_service_config_files) and to Spiegel (matrix.registration_file). Both tokens are
            # secrets: keep the file readable by those two only (chmod 640, group of the homeserver).
            id: \(Self.quoted(self.id))
            url: \(Self.quoted(self.url))
            as_token: \(Self.quoted(self.asToken))
            hs_token: \(Self.quoted(self.hsToken))
            sender_localpart: \(Self.quoted(self.senderLocalpart))
            rate_limited: false
            # To-device messages (MSC2409), device lists and one-time key counts (MSC3202) for
            # end-to-end encryption. Synapse also needs, in homeserver.yaml:
            #   experimental_features:
            #     msc2409_to_device_messages_enabled: true
            #     msc3202_transaction_extensions: true
            receive_ephemeral: true
            "org.matrix.msc3202": true
            namespaces:
              users:
                - exclusive: true
                  regex: \(Self.quoted("@" + escapedLocalpart + ":" + escapedServer))
              aliases: []
              rooms: []

            """
    }

    /// Reads a registration file.
    /// - Throws: ``MatrixRegistrationError`` naming the file and what is wrong.
    public static func load(path: String) throws -> MatrixRegistration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw MatrixRegistrationError(message: "the registration file \(path) cannot be read")
        }
        guard let node = try? Yams.compose(yaml: text), let mapping = node.mapping else {
            throw MatrixRegistrationError(message: "the registration file \(path) is not a YAML mapping")
        }
        func field(_ name: String) throws -> String {
            guard let value = mapping[name]?.string, !value.isEmpty else {
                throw MatrixRegistrationError(message: "the registration file \(path) has no \(name)")
            }
            return value
        }
        var registration = MatrixRegistration(
            id: try field("id"), url: try field("url"), asToken: try field("as_token"), hsToken: try field("hs_token"),
            senderLocalpart: try field("sender_localpart")
        )
        registration.receivesDeviceMessages = mapping["receive_ephemeral"]?.bool == true && mapping["org.matrix.msc3202"]?.bool == true
        return registration
    }

    private static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.string((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// A registration file that cannot be used.
public struct MatrixRegistrationError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { self.message }
}
