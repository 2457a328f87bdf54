#!/bin/sh
# The build stage of deploy/Containerfile, on a host without a container engine: builds `spiegel`,
# lays out the tree the runtime image gets in a staging root, and says which shared libraries the
# binary still needs and which Debian packages hold them (what the runtime stage installs).
# The Containerfile runs this very script, so the two cannot drift apart.
#
#   deploy/container-build.sh STAGING_ROOT
#
# makes
#   STAGING_ROOT/usr/local/bin/spiegel               the binary (release, Swift runtime linked in)
#   STAGING_ROOT/usr/local/share/spiegel/Prompts     the coaching content
#
# Settings (environment):
#   SPIEGEL_BUILD_CONFIGURATION  release (default) or debug
#   SPIEGEL_STATIC_STDLIB        yes (default): link the Swift runtime and Foundation into the
#                                binary (--static-swift-stdlib), so that only Debian libraries
#                                remain and the runtime image needs no Swift; the script fails if
#                                any other library remains. no: link them dynamically (a quick
#                                debug build for a test; the binary then needs the toolchain's
#                                runtime libraries, listed but not an error).
#   SPIEGEL_PREBUILT             the path of a `spiegel` already built: copied instead of building
#                                (the Deploy tests use the debug binary of `swift build`, since a
#                                build inside `swift test` would wait for the lock on .build).
#   SWIFT                        the swift command (default: swift)
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 STAGING_ROOT" >&2
    exit 64
fi
root=$1
package=$(cd "$(dirname "$0")/.." && pwd)
configuration=${SPIEGEL_BUILD_CONFIGURATION:-release}
static=${SPIEGEL_STATIC_STDLIB:-yes}
swift=${SWIFT:-swift}

case $configuration in release | debug) ;; *) echo "$0: SPIEGEL_BUILD_CONFIGURATION must be release or debug" >&2; exit 64 ;; esac
case $static in yes | no) ;; *) echo "$0: SPIEGEL_STATIC_STDLIB must be yes or no" >&2; exit 64 ;; esac

# 1. Build (as the Containerfile: one product, the Swift runtime linked in).
if [ -n "${SPIEGEL_PREBUILT:-}" ]; then
    binary=$SPIEGEL_PREBUILT
    echo "Using the prebuilt $binary"
else
    if [ "$static" = yes ]; then
        "$swift" build --package-path "$package" -c "$configuration" --product spiegel --static-swift-stdlib
    else
        "$swift" build --package-path "$package" -c "$configuration" --product spiegel
    fi
    binary=$("$swift" build --package-path "$package" -c "$configuration" --show-bin-path)/spiegel
fi
if [ ! -x "$binary" ]; then
    echo "$0: no executable at $binary" >&2
    exit 1
fi

# 2. The tree of the runtime image.
mkdir -p "$root/usr/local/bin" "$root/usr/local/share/spiegel"
cp "$binary" "$root/usr/local/bin/spiegel.new"
chmod 0755 "$root/usr/local/bin/spiegel.new"
mv "$root/usr/local/bin/spiegel.new" "$root/usr/local/bin/spiegel"
rm -rf "$root/usr/local/share/spiegel/Prompts"
cp -R "$package/Prompts" "$root/usr/local/share/spiegel/Prompts"
echo "Staged $root/usr/local/bin/spiegel and $root/usr/local/share/spiegel/Prompts"

# 3. What the runtime stage needs: each shared library and the Debian package that holds it.
ldd "$root/usr/local/bin/spiegel" >"$root/.ldd" 2>&1 || true
if grep -q "not found" "$root/.ldd"; then
    echo "$0: spiegel needs libraries this machine lacks:" >&2
    grep "not found" "$root/.ldd" >&2
    rm -f "$root/.ldd"
    exit 1
fi
libraries=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' "$root/.ldd")
rm -f "$root/.ldd"
# Debian registers a library under /lib or /usr/lib: ask for both, in one dpkg call.
owners=$(for library in $libraries; do echo "$library"; echo "/usr$library"; done | xargs dpkg -S 2>/dev/null || true)
echo "Shared libraries of spiegel:"
foreign=""
packages=""
for library in $libraries; do
    owner=$(printf '%s\n' "$owners" | awk -v a="$library" -v b="/usr$library" '$2 == a || $2 == b { sub(/:.*/, "", $1); print $1; exit }')
    if [ -n "$owner" ]; then
        echo "  $library  (Debian: $owner)"
        case " $packages " in *" $owner "*) ;; *) packages="$packages $owner" ;; esac
    else
        echo "  $library  (NOT from Debian)"
        foreign="$foreign $library"
    fi
done
echo "Debian packages the runtime stage needs:$packages"
if [ -n "$foreign" ]; then
    if [ "$static" = yes ]; then
        echo "$0: libraries no Debian package provides remain:$foreign" >&2
        exit 1
    fi
    echo "Not from Debian (the Swift runtime, linked dynamically with SPIEGEL_STATIC_STDLIB=no):$foreign"
fi
