@testable import SpiegelCoach
import Testing

/// The sharing and pairing commands as a teacher types them, and answers that only look like
/// them: a message is split into words only when its first word can begin a command, so these
/// pin what that shortcut must not change.
@Suite struct SharingCommandTests {
    @Test(arguments: [
        ("Mijn coach is @els:school.example.", SharingCommand.coachIs("@els:school.example")),
        ("  geen coach meer ", .endPairing),
        ("Stop met mijn coach!", .endPairing),
        ("aanvaard @an:school.example", .accept("@an:school.example")),
        ("Decline @bram", .decline("@bram")),
        ("nodig @els uit", .invite("@els")),
        ("Overzicht?", .overview),
        ("wat heb ik gedeeld", .sharedList),
        ("trek in", .withdraw(nil)),
        ("trek 2 in", nil),
        ("Trek in 2", .withdraw(2)),
        ("withdraw 3", .withdraw(3)),
        ("alles", .all),
        ("Niks.", .nothing),
        ("Alles...", .all),
        ("... alles", .all),
        ("Overzicht.", .overview),
        ("1.", .numbers([1])),
        ("nee dank je", .no),
        ("liever niet", .no),
        ("pas 2 aan: het binnenkomen na de pauze", .edit(2, "het binnenkomen na de pauze")),
        ("edit 1: calmer starts", .edit(1, "calmer starts")),
        ("1 en 3", .numbers([1, 3])),
        ("2, 4 and 5", .numbers([2, 4, 5])),
        ("en 2", .numbers([2])),
        ("3", .numbers([3])),
    ] as [(String, SharingCommand?)])
    func aCommandIsKnown(text: String, command: SharingCommand?) {
        #expect(SharingCommand(text) == command, "\(text)")
    }

    @Test(arguments: [
        "Geen idee wat ik anders had moeten doen",
        "Stop, ik wil eerst iets anders vertellen",
        "Wat ik vooral merkte is dat ze onrustig waren",
        "Alles liep mis na de pauze",
        "Nee, dat klopt niet: ze zaten al",
        "3 leerlingen bleven praten",
        "Het binnenkomen na de middagpauze in 2C",
        "Frustratie. Ik dacht: dit lukt weer niet",
        "",
        "…",
        "...",
        "1. Tien minuten of meer, denk ik",
    ])
    func anAnswerIsNoCommand(text: String) {
        #expect(SharingCommand(text) == nil, "\(text)")
    }
}
