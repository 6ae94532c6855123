#!/bin/sh
# Builds the webapp as a fully static x86_64 Linux binary, the file that both the Dockerfile and
# the action's daemonless build (`image-from:`) put into a scratch image.
#
#   webapp/build-static.sh            -> prints the path of the binary
#   GIT_SHA=$(git rev-parse --short HEAD) webapp/build-static.sh   (bakes the version in)
#
# musl is preferred (no glibc NSS caveats); when the musl target cannot be installed, glibc is
# linked statically instead, which works here because the app resolves no host names.
set -eu
cd "$(dirname "$0")/.."

if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl \
    || rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1; then
    target=x86_64-unknown-linux-musl
    cargo build --locked --release -p webapp --target "$target" >&2
else
    target=x86_64-unknown-linux-gnu
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
        cargo build --locked --release -p webapp --target "$target" >&2
fi

binary="target/$target/release/webapp"
if file "$binary" 2>/dev/null | grep -q 'dynamically linked'; then
    echo "error: $binary is dynamically linked" >&2
    exit 1
fi
echo "$binary"
