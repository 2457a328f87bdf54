import Foundation
import Logging
import Metrics
import ServiceLifecycle
import SpiegelChat
import SpiegelCoach
import SpiegelVault

/// Once a minute, sends the coaching service's due reminders to each coachee's direct chat, through
/// the gateway, in the transport they last wrote from.
struct ReminderService: Service {
    let coaching: CoachingService
    let gateway: ChatGateway
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await self.coaching.sendDueReminders { reminder in
                    guard let address = reminder.address, self.gateway.serves(address.transport) else { return }
                    try await self.gateway.say(reminder.text, in: address.room, via: address.transport, key: "reminder-\(RandomID.make())", isPrivate: true)
                    Counter(label: "spiegel_reminders_sent_total", dimensions: [("kind", reminder.kind.rawValue)]).increment()
                }
            } catch {
                self.logger.error("spiegel.reminders.failed", metadata: ["spiegel.error": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        }
    }
}
