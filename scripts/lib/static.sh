# shellcheck shell=bash
# The action as the release ships it: a statically linked release binary for the container
# tests (tests/container.rs, tests/workflows.rs), sourced by scripts/test.
#
#   static_action_path    prints where build_static_action leaves the binary
#   build_static_action   builds it (self-contained: scripts/test runs it as a stage)
#
# The release uses the musl target; where that target cannot be installed (no rustup download
# here), glibc with `+crt-static` gives the same shape: no loader, no libc in the image. Static
# glibc cannot load NSS modules, so only numeric addresses resolve, which is all the tests use.
ECS_STATIC_TARGET="${ECS_STATIC_TARGET:-x86_64-unknown-linux-gnu}"
export ECS_STATIC_TARGET

static_action_path() { echo "$REPO/target/$ECS_STATIC_TARGET/release/ecs-poc-action"; }

build_static_action() {
    local bin="$REPO/target/$ECS_STATIC_TARGET/release/ecs-poc-action"
    # RUSTFLAGS with an explicit --target reach only the target's crates, not build scripts or
    # proc macros (which must stay dynamic to be loaded by rustc).
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked \
        --bin ecs-poc-action --target "$ECS_STATIC_TARGET" || return 1
    if readelf -lW "$bin" | grep -q 'Requesting program interpreter'; then
        echo "$bin is dynamically linked" >&2
        return 1
    fi
    printf 'static binary: %s (%s bytes)\n' "$bin" "$(stat -c %s "$bin")"
}
