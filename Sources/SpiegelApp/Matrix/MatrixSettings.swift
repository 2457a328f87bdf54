import Foundation
import SpiegelChat

/// How Matrix is connected, worked out from the configuration: shared by `serve` and `doctor`.
struct MatrixSettings {
    var homeserverURL: String
    var accessToken: String
    /// Set in application-service mode; `nil` in `/sync` mode.
    var registration: MatrixRegistration?

    /// `nil` when no `matrix.*` connection key is set.
    /// - Throws: ``SpiegelServerError`` saying which key is missing or too many.
    init?(_ matrix: SpiegelConfiguration.Matrix) throws {
        guard matrix.homeserverURL != nil || matrix.registrationFile != nil || matrix.accessToken != nil else { return nil }
        guard let url = matrix.homeserverURL else {
            throw SpiegelServerError(message: "Matrix needs matrix.homeserver_url")
        }
        self.homeserverURL = url
        switch (matrix.registrationFile, matrix.accessToken) {
        case (let file?, nil):
            let registration: MatrixRegistration
            do {
                registration = try MatrixRegistration.load(path: file)
            } catch {
                throw SpiegelServerError(message: "\(error)")
            }
            guard matrix.userID != nil else {
                throw SpiegelServerError(message: "the Matrix application service needs matrix.user_id (the bot's id, such as @\(registration.senderLocalpart):school.example)")
            }
            self.accessToken = registration.asToken
            self.registration = registration
        case (nil, let token?):
            self.accessToken = token
            self.registration = nil
        case (nil, nil):
            throw SpiegelServerError(message: "Matrix needs matrix.registration_file (application service) or matrix.access_token (/sync)")
        case (_?, _?):
            throw SpiegelServerError(message: "Matrix takes matrix.registration_file or matrix.access_token, not both")
        }
    }
}
