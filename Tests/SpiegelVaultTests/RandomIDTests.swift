import SpiegelVault
import Testing

@Suite struct RandomIDTests {
    @Test func idsAre32HexDigitsAndDoNotRepeat() {
        let ids = (0..<1_000).map { _ in RandomID.make() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
    }
}
