import ArgumentParser
import Foundation
import SpiegelApp

/// `spiegel matrix`: connecting to a Matrix homeserver.
struct MatrixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix",
        abstract: "Connect Spiegel to a Matrix homeserver.",
        subcommands: [Registration.self]
    )

    struct Registration: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "registration",
            abstract: "Write an application-service registration with fresh random tokens.",
            discussion: """
                Give the file to the homeserver (Synapse: app_service_config_files) and to Spiegel
                (matrix.registration_file), then restart the homeserver. The tokens are secrets: the file
                is written with mode 0640 and never over an existing file.
                """
        )

        @Option(help: "The homeserver's name: the part after the colon in user ids, such as school.example.")
        var serverName: String

        @Option(help: "Where the homeserver reaches Spiegel's HTTP server.")
        var url = "http://127.0.0.1:8080"

        @Option(help: "The bot's localpart: spiegel makes @spiegel:<server-name>.")
        var localpart = "spiegel"

        @Option(help: "The application service's id at the homeserver.")
        var id = "spiegel"

        @Option(name: .shortAndLong, help: "Where to write the registration.")
        var output = "spiegel-registration.yaml"

        func validate() throws {
            guard self.url.hasPrefix("http://") || self.url.hasPrefix("https://") else {
                throw ValidationError("--url must be an http or https URL")
            }
            guard !self.serverName.isEmpty, !self.serverName.contains(where: { $0.isWhitespace || $0 == "/" }) else {
                throw ValidationError("--server-name must be a server name such as school.example")
            }
            guard !self.localpart.isEmpty, self.localpart.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || "._=-/".contains($0)) }) else {
                throw ValidationError("--localpart may hold lower-case letters, digits and ._=-/ only")
            }
        }

        func run() throws {
            let registration = MatrixRegistration.generate(id: self.id, url: self.url, senderLocalpart: self.localpart)
            let yaml = registration.yaml(serverName: self.serverName)
            let descriptor = open(self.output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else {
                printToStandardError("spiegel: cannot create \(self.output): \(String(cString: strerror(errno))) (an existing registration is never overwritten)")
                throw ExitCode.failure
            }
            let bytes = Array(yaml.utf8)
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            let synced = fsync(descriptor) == 0
            close(descriptor)
            guard written == bytes.count, synced else {
                printToStandardError("spiegel: could not write \(self.output) completely")
                throw ExitCode.failure
            }
            print("""
                Wrote \(self.output) (mode 0640).

                Homeserver (Synapse, homeserver.yaml):
                  app_service_config_files:
                    - \(URL(fileURLWithPath: self.output).path)

                Spiegel (spiegel.yaml):
                  matrix:
                    homeserver_url: https://<your homeserver>
                    registration_file: \(URL(fileURLWithPath: self.output).path)
                    user_id: "@\(self.localpart):\(self.serverName)"

                Restart the homeserver, then Spiegel; teachers invite @\(self.localpart):\(self.serverName) to a direct chat.
                """)
        }
    }
}
