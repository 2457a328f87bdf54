#!/bin/sh
# Installs Spiegel as a systemd service on a Debian server, as root, from the package root:
#
#   swift build -c release --product spiegel --static-swift-stdlib
#   deploy/install.sh [BINARY]        # default: .build/release/spiegel
#
# Makes the system user spiegel, installs the binary and the Prompts under /usr/local, the
# configuration and the master key in /etc/spiegel (an existing one is never overwritten), and
# deploy/spiegel.service; then says what is left to do. Running it again updates the binary, the
# Prompts and the unit.
set -eu

if [ "$(id -u)" != 0 ]; then
    echo "$0: run as root (it makes a system user and writes /usr/local, /etc and /etc/systemd)" >&2
    exit 1
fi
package=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$package/.build/release/spiegel}
if [ ! -x "$binary" ]; then
    echo "$0: no executable at $binary; build it first:" >&2
    echo "  swift build -c release --product spiegel --static-swift-stdlib" >&2
    exit 1
fi
if ldd "$binary" | grep -q "not found"; then
    echo "$0: $binary needs libraries this machine lacks (build with --static-swift-stdlib; apt-get install libcurl4):" >&2
    ldd "$binary" | grep "not found" >&2
    exit 1
fi

getent group spiegel >/dev/null || groupadd --system spiegel
getent passwd spiegel >/dev/null ||
    useradd --system --gid spiegel --home-dir /var/lib/spiegel --no-create-home --shell /usr/sbin/nologin spiegel

install -d -m 0755 /usr/local/bin /usr/local/share/spiegel
install -m 0755 "$binary" /usr/local/bin/spiegel.new
mv /usr/local/bin/spiegel.new /usr/local/bin/spiegel
rm -rf /usr/local/share/spiegel/Prompts.new
cp -R "$package/Prompts" /usr/local/share/spiegel/Prompts.new
rm -rf /usr/local/share/spiegel/Prompts
mv /usr/local/share/spiegel/Prompts.new /usr/local/share/spiegel/Prompts

install -d -m 0755 /etc/spiegel
if [ ! -e /etc/spiegel/spiegel.yaml ]; then
    install -m 0640 -g spiegel "$package/deploy/spiegel.example.yaml" /etc/spiegel/spiegel.yaml
    echo "Wrote /etc/spiegel/spiegel.yaml from deploy/spiegel.example.yaml: connect a chat there."
fi
if [ ! -e /etc/spiegel/master.key ]; then
    /usr/local/bin/spiegel keys init --key-file /etc/spiegel/master.key
fi

install -m 0644 "$package/deploy/spiegel.service" /etc/systemd/system/spiegel.service
systemctl daemon-reload

cat <<'EOF'

Installed. Left to do:
  1. Edit /etc/spiegel/spiegel.yaml (a chat to connect). Secrets (SPIEGEL_PLAIN_SECRET=...,
     one a line) go in /etc/spiegel/secrets.env, mode 0600, and `systemctl edit spiegel` adds:
       [Service]
       EnvironmentFile=/etc/spiegel/secrets.env
  2. Check it:  SPIEGEL_VAULT_KEY_FILE=/etc/spiegel/master.key spiegel doctor --config /etc/spiegel/spiegel.yaml
  3. Start it:  systemctl enable --now spiegel     (then: journalctl -u spiegel -f)
  4. Keep a copy of /etc/spiegel/master.key apart from the backups of /var/lib/spiegel.
EOF
