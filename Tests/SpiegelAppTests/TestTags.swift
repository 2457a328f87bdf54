import Foundation
import Testing

/// Tests that need more than Swift: a developer can run the rest without them
/// (`make test-quick` sets `SPIEGEL_SKIP_TAGS=synapse,systemd,container,irc,browser`). `make test` and CI
/// run them all.
extension Tag {
    /// Runs a real Synapse homeserver from the venv `make synapse` builds.
    @Tag static var synapse: Self
    /// Verifies and runs the systemd unit (`systemd-analyze`, `systemd-run`).
    @Tag static var systemd: Self
    /// Runs the container image's build steps.
    @Tag static var container: Self
    /// Starts real IRC servers (ngIRCd, InspIRCd with atheme) from Debian.
    @Tag static var irc: Self
    /// Drives headless Chromium (Debian) through Selenium (the venv `make test` builds).
    @Tag static var browser: Self
}

/// Whether tests tagged `tag` run: all do unless `SPIEGEL_SKIP_TAGS` names it.
func runs(_ tag: String) -> Bool {
    let skipped = ProcessInfo.processInfo.environment["SPIEGEL_SKIP_TAGS"]?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
    return !skipped.contains(tag)
}
