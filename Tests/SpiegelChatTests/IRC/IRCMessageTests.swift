import SpiegelChat
import SpiegelTestKit
import Foundation
import Testing

/// Parsing and serializing IRC lines, with lines as ngircd and InspIRCd send them.
@Suite struct IRCMessageTests {
    @Test func privateMessageWithTimeAndAccountTagsIsParsed() throws {
        let line = "@time=2026-12-04T10:15:30.123Z;account=an :an!an@127.0.0.1 PRIVMSG spiegel :Mijn les was rommelig\r\n"
        let message = try #require(IRCMessage(parsing: line))
        #expect(message.tags == ["time": "2026-12-04T10:15:30.123Z", "account": "an"])
        #expect(message.source == "an!an@127.0.0.1")
        #expect(message.nick == "an")
        #expect(message.command == "PRIVMSG")
        #expect(message.parameters == ["spiegel", "Mijn les was rommelig"])
        #expect(message.account == "an")
        let time = try #require(message.time)
        #expect(abs(time.timeIntervalSince1970 - 1_796_379_330.123) < 0.000_5)
    }

    @Test func welcomeNumericKeepsItsDigits() throws {
        let message = try #require(IRCMessage(parsing: ":irc.example 001 spiegel :Welcome to the Internet Relay Network spiegel!spiegel@localhost"))
        #expect(message.source == "irc.example")
        #expect(message.nick == "irc.example")
        #expect(message.command == "001")
        #expect(message.parameters == ["spiegel", "Welcome to the Internet Relay Network spiegel!spiegel@localhost"])
    }

    @Test func pingWithoutSourceHasOneParameter() throws {
        let message = try #require(IRCMessage(parsing: "PING :token"))
        #expect(message == IRCMessage(command: "PING", parameters: ["token"]))
        #expect(message.source == nil && message.nick == nil && message.tags.isEmpty)
        #expect(try IRCMessage.pong(message.parameters[0]).serialized() == "PONG token")
    }

    @Test func capabilityListContinuationKeepsTheAsterisk() throws {
        let message = try #require(IRCMessage(parsing: ":server CAP * LS * :multi-prefix sasl"))
        #expect(message.command == "CAP")
        #expect(message.parameters == ["*", "LS", "*", "multi-prefix sasl"])
    }

    @Test(arguments: [
        (":ngircd.example 433 * spiegel :Nickname already in use", "433", ["*", "spiegel", "Nickname already in use"]),
        (":irc.example 903 spiegel :SASL authentication successful", "903", ["spiegel", "SASL authentication successful"]),
        (":irc.example 904 spiegel :SASL authentication failed", "904", ["spiegel", "SASL authentication failed"]),
        (":irc.example 005 spiegel CHANTYPES=# PREFIX=(ov)@+ NICKLEN=30 :are supported by this server",
         "005", ["spiegel", "CHANTYPES=#", "PREFIX=(ov)@+", "NICKLEN=30", "are supported by this server"]),
        (":irc.example 353 spiegel = #staff :@an +bo spiegel", "353", ["spiegel", "=", "#staff", "@an +bo spiegel"]),
        (":irc.example 396 spiegel cloak.example :is now your displayed host", "396", ["spiegel", "cloak.example", "is now your displayed host"]),
        (":inspircd.example NOTICE * :*** Looking up your hostname...", "NOTICE", ["*", "*** Looking up your hostname..."]),
        ("AUTHENTICATE +", "AUTHENTICATE", ["+"]),
        (":an!an@127.0.0.1 JOIN :#staff", "JOIN", ["#staff"]),
        (":an!an@127.0.0.1 JOIN #staff an :An de Vries", "JOIN", ["#staff", "an", "An de Vries"]),
        (":an!an@127.0.0.1 PRIVMSG #staff ::-) prima", "PRIVMSG", ["#staff", ":-) prima"]),
        (":an!an@127.0.0.1 PRIVMSG #staff :", "PRIVMSG", ["#staff", ""]),
        ("ERROR :Closing connection: spiegel[127.0.0.1] (Excess Flood)", "ERROR", ["Closing connection: spiegel[127.0.0.1] (Excess Flood)"]),
    ] as [(String, String, [String])])
    func serverLinesAreParsed(line: String, command: String, parameters: [String]) throws {
        let message = try #require(IRCMessage(parsing: line))
        #expect(message.command == command)
        #expect(message.parameters == parameters)
    }

    @Test func sloppyLinesAreTolerated() throws {
        #expect(IRCMessage(parsing: "PING :x\n") == IRCMessage(command: "PING", parameters: ["x"]))
        #expect(IRCMessage(parsing: "PING :x\r\n\r\n") == IRCMessage(command: "PING", parameters: ["x"]))
        let spaced = try #require(IRCMessage(parsing: "  @a=1   :an!an@h   privmsg   #c   hi  there:  "))
        #expect(spaced == IRCMessage(tags: ["a": "1"], source: "an!an@h", command: "PRIVMSG", parameters: ["#c", "hi", "there:"]))
        let trailing = try #require(IRCMessage(parsing: ":s PRIVMSG #c :  keeps  its spaces  "))
        #expect(trailing.parameters == ["#c", "  keeps  its spaces  "])
        #expect(IRCMessage(parsing: "QUIT")?.parameters == [])
    }

    @Test(arguments: [
        "", "\r\n", "   ", ":onlysource", ": PRIVMSG #c :x", "@a=b", "@a=b :source", ":s 12 x", ":s 1234 x",
        ":s PRIV-MSG x", "PRIVMSG a\u{0}b", "PRIVMSG #c :a\rb", "PRIVMSG #c :a\nb", "€UR x",
    ])
    func garbageIsRefused(line: String) {
        #expect(IRCMessage(parsing: line) == nil)
    }

    @Test(arguments: [
        ("a\\:b", "a;b"), ("a\\sb", "a b"), ("a\\\\b", "a\\b"), ("a\\rb", "a\rb"), ("a\\nb", "a\nb"),
        ("trailing\\", "trailing"), ("\\b\\x", "bx"), ("", ""), ("é\\s🙂", "é 🙂"),
    ])
    func tagValuesAreUnescaped(escaped: String, value: String) throws {
        let message = try #require(IRCMessage(parsing: "@label=\(escaped) :s TAGMSG #c"))
        #expect(message.tags["label"] == value)
    }

    @Test func tagWithoutValueAndRepeatedTagAreRead() throws {
        let message = try #require(IRCMessage(parsing: "@+draft/typing;a=1;a=2;;=x :s TAGMSG #c"))
        #expect(message.tags == ["+draft/typing": "", "a": "2"])
    }

    @Test func tagValuesAreEscapedAndRoundTrip() throws {
        let message = IRCMessage(tags: ["label": "a;b c\\d\r\n", "+draft/reply": "", "msgid": "x"], command: "TAGMSG", parameters: ["#c"])
        let line = try message.serialized()
        #expect(line == "@+draft/reply;label=a\\:b\\sc\\\\d\\r\\n;msgid=x TAGMSG #c")
        #expect(IRCMessage(parsing: line) == message)
    }

    @Test(arguments: [
        (IRCMessage.privmsg(to: "an", text: "Mijn les was rommelig"), "PRIVMSG an :Mijn les was rommelig"),
        (.privmsg(to: "#staff", text: "Hoi"), "PRIVMSG #staff Hoi"),
        (.privmsg(to: "an", text: ""), "PRIVMSG an :"),
        (.privmsg(to: "an", text: ":-)"), "PRIVMSG an ::-)"),
        (.notice(to: "an", text: "Even geduld"), "NOTICE an :Even geduld"),
        (.pong("irc.example"), "PONG irc.example"),
        (.join("#staff"), "JOIN #staff"),
        (.nick("spiegel"), "NICK spiegel"),
        (.user("spiegel", realName: "Spiegel coach"), "USER spiegel 0 * :Spiegel coach"),
        (.cap("LS", "302"), "CAP LS 302"),
        (.cap("REQ", "sasl message-tags"), "CAP REQ :sasl message-tags"),
        (.cap("END"), "CAP END"),
        (.authenticate("PLAIN"), "AUTHENTICATE PLAIN"),
        (.authenticate("+"), "AUTHENTICATE +"),
        (.quit("Tot ziens"), "QUIT :Tot ziens"),
        (.quit(), "QUIT"),
        (IRCMessage(source: "an!an@h", command: "privmsg", parameters: ["#c", "x"]), ":an!an@h PRIVMSG #c x"),
    ] as [(IRCMessage, String)])
    func commandsSerializeWithColonOnlyWhereNeeded(message: IRCMessage, line: String) throws {
        #expect(try message.serialized() == line)
        #expect(IRCMessage(parsing: line) == message)
    }

    @Test(arguments: [
        (IRCMessage.privmsg(to: "an", text: "geheim\r\nQUIT"), IRCMessageError(.forbiddenCharacter, in: .parameter(1))),
        (.privmsg(to: "an", text: "geheim\nx"), IRCMessageError(.forbiddenCharacter, in: .parameter(1))),
        (.privmsg(to: "an", text: "geheim\u{0}"), IRCMessageError(.forbiddenCharacter, in: .parameter(1))),
        (.privmsg(to: "an\r", text: "geheim"), IRCMessageError(.forbiddenCharacter, in: .parameter(0))),
        (.privmsg(to: "an de", text: "geheim"), IRCMessageError(.invalidMiddleParameter, in: .parameter(0))),
        (.privmsg(to: ":an", text: "geheim"), IRCMessageError(.invalidMiddleParameter, in: .parameter(0))),
        (.privmsg(to: "", text: "geheim"), IRCMessageError(.invalidMiddleParameter, in: .parameter(0))),
        (IRCMessage(command: "PRIV MSG", parameters: ["geheim"]), IRCMessageError(.invalidCommand, in: .command)),
        (IRCMessage(command: "", parameters: ["geheim"]), IRCMessageError(.invalidCommand, in: .command)),
        (IRCMessage(source: "an an", command: "PRIVMSG", parameters: ["geheim"]), IRCMessageError(.invalidSource, in: .source)),
        (IRCMessage(tags: ["a b": "geheim"], command: "TAGMSG", parameters: ["#c"]), IRCMessageError(.invalidTagKey, in: .tags)),
        (IRCMessage(tags: ["a": "geheim\u{0}"], command: "TAGMSG", parameters: ["#c"]), IRCMessageError(.forbiddenCharacter, in: .tags)),
    ] as [(IRCMessage, IRCMessageError)])
    func unsendablePartsAreRefusedWithoutTheirText(message: IRCMessage, expected: IRCMessageError) {
        #expect(throws: expected) { try message.serialized() }
        #expect(!expected.description.contains("geheim"))
        #expect(!expected.description.isEmpty)
    }

    @Test func errorDescriptionNamesPartAndProblem() {
        let error = IRCMessageError(.forbiddenCharacter, in: .parameter(1))
        #expect(error.description == "IRC message: parameter 1 holds a line break or NUL")
    }

    @Test(arguments: [
        ("2026-12-04T10:15:30.123Z", 1_796_379_330.123),
        ("2026-12-04T10:15:30Z", 1_796_379_330.0),
    ])
    func timeTagIsRead(value: String, seconds: Double) throws {
        let time = try #require(IRCMessage(tags: ["time": value], command: "PRIVMSG").time)
        #expect(abs(time.timeIntervalSince1970 - seconds) < 0.000_5)
    }

    @Test func missingOrMalformedTimeIsNil() {
        #expect(IRCMessage(command: "PRIVMSG").time == nil)
        #expect(IRCMessage(tags: ["time": "gisteren"], command: "PRIVMSG").time == nil)
    }

    @Test func loggedOutAccountIsNil() {
        #expect(IRCMessage(tags: ["account": "*"], command: "PRIVMSG").account == nil)
        #expect(IRCMessage(command: "PRIVMSG").account == nil)
        #expect(IRCMessage(tags: ["account": "an"], command: "PRIVMSG").account == "an")
    }

    @Test func nickIsTheSourceBeforeUserAndHost() {
        #expect(IRCMessage(source: "an!~an@127.0.0.1", command: "PRIVMSG").nick == "an")
        #expect(IRCMessage(source: "an@127.0.0.1", command: "PRIVMSG").nick == "an")
        #expect(IRCMessage(source: "irc.example", command: "NOTICE").nick == "irc.example")
    }

    @Test func channelsAreRecognisedByTheirFirstCharacter() {
        #expect(IRCMessage.isChannel("#staff"))
        #expect(IRCMessage.isChannel("&local"))
        #expect(!IRCMessage.isChannel("spiegel"))
        #expect(!IRCMessage.isChannel(""))
        #expect(!IRCMessage.isChannel("+modeless"))
        #expect(IRCMessage.isChannel("+modeless", chanTypes: "#+"))
    }

    @Test func randomBytesNeverCrashAndParsedLinesRoundTrip() throws {
        var random = SeededGenerator(seed: 0x5EED_1BC)
        let alphabet = Array("@:; =\\!#&+-./*~abcXYZ019 \r\n\t".utf8) + [0, 0x01, 0x7F, 0xC3, 0xA9, 0xE2, 0x80, 0x93, 0xF0, 0x9F, 0xFF]
        var parsedCount = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &random)
            let bytes = (0..<length).map { _ in
                Bool.random(using: &random) ? alphabet.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            }
            let line = String(decoding: bytes, as: UTF8.self)
            guard let message = IRCMessage(parsing: line) else { continue }
            parsedCount += 1
            guard let serialized = try? message.serialized() else { continue }
            #expect(IRCMessage(parsing: serialized) == message, "\(bytes)")
        }
        #expect(parsedCount > 100)
    }
}
