import Foundation

/// Brings a chat message to the words the features are made of: lower case, no accents, letters
/// and digits only, Flemish, Dutch and English chat forms written out ("k" → "ik", "ff" → "even",
/// "nie" → "niet", "idk" → "i dont know"), letters typed three times or more kept twice.
///
/// Typos beyond that are left to the character n-grams of ``FeatureExtractor``.
public enum UtteranceNormalizer {
    /// The message's words, normalised.
    public static func words(_ text: String) -> [String] {
        // Plain ASCII (most chat) needs only lower case; anything else loses its accents too.
        let folded = text.utf8.allSatisfy { $0 < 128 }
            ? text.lowercased()
            : text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        var words: [String] = []
        var current = String.UnicodeScalarView()
        var previous: Unicode.Scalar?
        var repeats = 0
        func flush() {
            guard !current.isEmpty else { return }
            let word = String(current)
            if let expansion = Self.chatForms[word] {
                words += expansion
            } else {
                words.append(word)
            }
            current = String.UnicodeScalarView()
        }
        for scalar in folded.unicodeScalars {
            let isWordCharacter = scalar.isASCII
                ? (("a"..."z").contains(scalar) || ("0"..."9").contains(scalar))
                : (scalar.properties.isAlphabetic || scalar.properties.numericType != nil)
            guard isWordCharacter else {
                // "'k", "m'n", "don't": an apostrophe joins, it does not split.
                if scalar == "'" || scalar == "’" || scalar == "`" { continue }
                flush()
                previous = nil
                continue
            }
            if scalar == previous {
                repeats += 1
                if repeats >= 2 { continue }
            } else {
                repeats = 0
            }
            previous = scalar
            current.append(scalar)
        }
        flush()
        return words
    }

    /// Chat forms and spellings, written out.
    static let chatForms: [String: [String]] = {
        var forms: [String: [String]] = [
            "k": ["ik"], "kheb": ["ik", "heb"], "kben": ["ik", "ben"], "kweet": ["ik", "weet"], "kga": ["ik", "ga"],
            "kzou": ["ik", "zou"], "kmoet": ["ik", "moet"], "kwil": ["ik", "wil"], "kzie": ["ik", "zie"], "kzit": ["ik", "zit"],
            "kvind": ["ik", "vind"], "kdenk": ["ik", "denk"], "kan't": ["kan", "niet"], "kkan": ["ik", "kan"], "kweetnie": ["ik", "weet", "niet"],
            "ff": ["even"], "effe": ["even"], "efkes": ["even"], "eefkes": ["even"], "eventjes": ["even"], "evn": ["even"],
            "nie": ["niet"], "ni": ["niet"], "nt": ["niet"], "nit": ["niet"], "niks": ["niets"], "nix": ["niets"], "nx": ["niets"],
            "da": ["dat"], "dak": ["dat", "ik"], "wa": ["wat"], "wadde": ["wat", "je"], "watte": ["wat", "je"],
            "ge": ["je"], "gij": ["jij"], "gy": ["jij"], "u": ["je"], "uw": ["je"], "jou": ["jij"], "jullie": ["jullie"],
            "zen": ["zijn"], "zijt": ["bent"], "zyt": ["bent"], "hebde": ["heb", "je"], "kunde": ["kun", "je"], "moete": ["moet", "je"],
            "mn": ["mijn"], "mijne": ["mijn"], "zn": ["zijn"], "dn": ["de"], "t": ["het"], "tis": ["het", "is"], "twas": ["het", "was"],
            "gwn": ["gewoon"], "gewn": ["gewoon"], "idd": ["inderdaad"], "aub": ["alsjeblieft"], "avb": ["alsjeblieft"], "asjeblieft": ["alsjeblieft"],
            "ajb": ["alsjeblieft"], "svp": ["alsjeblieft"], "pls": ["please"], "plz": ["please"], "plis": ["please"],
            "oke": ["ok"], "okee": ["ok"], "okay": ["ok"], "oki": ["ok"], "okey": ["ok"],
            "dnk": ["denk"], "wrm": ["waarom"], "wrom": ["waarom"], "mss": ["misschien"], "miss": ["misschien"], "nog": ["nog"],
            "vr": ["voor"], "vd": ["van", "de"], "lln": ["leerlingen"], "ll": ["leerling"], "lkr": ["leerkracht"],
            "idk": ["i", "dont", "know"], "dunno": ["dont", "know"], "tbh": ["to", "be", "honest"], "imo": ["in", "my", "opinion"],
            "wanna": ["want", "to"], "gonna": ["going", "to"], "gotta": ["got", "to"], "cant": ["can", "not"], "cannot": ["can", "not"],
            "dont": ["dont"], "im": ["i", "am"], "ive": ["i", "have"], "youre": ["you", "are"], "r": ["are"], "ur": ["your"], "ya": ["you"],
            "thx": ["thanks"], "tnx": ["thanks"], "bc": ["because"], "cuz": ["because"], "coz": ["because"],
        ]
        forms["weetnie"] = ["weet", "niet"]
        forms["weetni"] = ["weet", "niet"]
        return forms
    }()
}
