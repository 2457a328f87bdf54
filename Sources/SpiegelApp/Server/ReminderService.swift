import Foundation
import Logging
import Metrics
import ServiceLifecycle
import SpiegelChat
import SpiegelCoach

/// Once a minute, sends the coaching service's due reminders to each coachee's direct chat through
/// the outbox of the transport they last wrote from.
struct ReminderService: Service {
    let coaching: CoachingService
    let gateways: [ChatGateway]
    let logger: Logger

    func run() async throws {
        let outboxes = Dictionary(self.gateways.map { ($0.transport.name, $0.outbox) }, uniquingKeysWith: { first, _ in first })
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await self.coaching.sendDueReminders { reminder in
                    guard let address = reminder.address, let outbox = outboxes[address.transport] else { return }
                    try await outbox.enqueue([OutboxEntry(key: "reminder-\(UUID().uuidString)", room: address.room, text: reminder.text)])
                    Counter(label: "spiegel_reminders_sent_total", dimensions: [("kind", reminder.kind.rawValue)]).increment()
                }
            } catch {
                self.logger.error("spiegel.reminders.failed", metadata: ["spiegel.error": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        }
    }
}
