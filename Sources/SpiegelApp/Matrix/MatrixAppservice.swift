import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import SpiegelAsync
import SpiegelChat
import SpiegelDialogue

/// Application-service mode: loads the Matrix state, then asks the homeserver to ping Spiegel
/// (`/_matrix/client/v1/appservice/{id}/ping`), which proves both directions and is logged. The
/// events themselves arrive at ``AppserviceRoutes``.
struct MatrixAppservice: Service {
    let bot: MatrixBot
    let client: any HTTPClient
    let registration: MatrixRegistration
    /// Set once the HTTP server accepts connections: the homeserver's ping comes back there.
    let serverRunning: AsyncEvent
    let logger: Logger

    func run() async throws {
        try await self.bot.state.load()
        if let encryption = self.bot.encryption {
            if !self.registration.receivesDeviceMessages {
                self.logger.warning("spiegel.matrix.registration_without_device_messages", metadata: [
                    "spiegel.hint": "set receive_ephemeral: true and org.matrix.msc3202: true in the registration (spiegel matrix registration writes them) and enable msc2409_to_device_messages_enabled and msc3202_transaction_extensions in Synapse's experimental_features; until then room keys come only through the device's /sync",
                ])
            }
            try await self.startEncryption(encryption)
        }
        // The HTTP server starts after this service: wait until it listens, then ping (again every
        // ten seconds while the homeserver cannot be reached, up to five minutes).
        try? await cancelWhenGracefulShutdown { try await self.serverRunning.wait() }
        for attempt in 0..<30 where !Task.isShuttingDownGracefully {
            if attempt > 0 {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(10)) }
            }
            guard !Task.isShuttingDownGracefully else { break }
            let response = try? await self.client.execute(self.bot.api.pingAppservice(id: self.registration.id, transactionID: "spiegel-ping-\(attempt)"))
            if let response, response.status.kind == .successful {
                self.logger.info("spiegel.matrix.appservice_ping_ok")
                break
            }
            let reason = response.flatMap { MatrixError($0)?.errcode } ?? response.map { "HTTP \($0.status.code)" } ?? "unreachable"
            self.logger.warning("spiegel.matrix.appservice_ping_failed", metadata: ["spiegel.reason": "\(reason)"])
        }
        try? await gracefulShutdown()
    }

    /// Makes or takes the bot's device and uploads its keys, again with a growing pause while the
    /// homeserver cannot be reached or refuses.
    private func startEncryption(_ encryption: MatrixEncryption) async throws {
        var failures = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await encryption.start(.applicationService, userID: self.bot.userID ?? "")
                return
            } catch {
                failures += 1
                let described = error is HTTPClientError || error is MatrixError ? "\(error)" : "\(type(of: error))"
                self.logger.error("spiegel.matrix.e2ee_start_failed", metadata: ["spiegel.error": "\(described)"])
                let pause = min(60, 1 << min(failures, 6))
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(pause)) }
            }
        }
    }
}

extension MatrixBot.Texts {
    /// The texts from `global.yaml`'s `service:` section, in `language`.
    init(library: DialogueLibrary, language: String) {
        self.init(
            hello: library.serviceMessage("matrix_hello", in: language, fallback: "Hallo, ik ben Spiegel. Stuur me een bericht om te beginnen."),
            notDirect: library.serviceMessage("matrix_not_direct", in: language, fallback: "Ik praat alleen in een privégesprek met één persoon."),
            encrypted: library.serviceMessage("matrix_encrypted", in: language, fallback: "Dit gesprek is versleuteld; dat kan ik niet lezen."),
            encryptionRequired: library.serviceMessage("matrix_encryption_required", in: language, fallback: "Ik praat alleen in een versleuteld gesprek."),
            undecryptable: library.serviceMessage("matrix_undecryptable", in: language, fallback: "Je laatste bericht kon ik niet ontsleutelen. Wil je het nog eens sturen?"),
            edited: library.serviceMessage("matrix_edited", in: language, fallback: "Ik lees alleen nieuwe berichten."),
            textOnly: library.serviceMessage("matrix_text_only", in: language, fallback: "Ik kan alleen tekst lezen.")
        )
    }
}
