# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/stand-ins and the other scripts/lib files (sourced).

# Repository root: the parent of scripts/.
: "${REPO:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export REPO

# Where the project's own tools live (all gitignored): the Python venv, npm tools, stand-in state.
: "${ECS_TEST_VENV:=$REPO/.venv}"
: "${ECS_TOOLS_DIR:=$REPO/.tools}"
export ECS_TEST_VENV ECS_TOOLS_DIR

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Run as root, or through sudo where that exists (Debian images used here run as root).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        die "need root for: $*"
    fi
}

# Monotonic-ish seconds with a fraction, for stage timings.
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# Put the venv, the npm tools and cargo's bin dir on PATH (appended: system tools win for names
# that both have, and the venv's python is addressed by path where it matters).
tools_path() {
    local dir
    for dir in "$ECS_TEST_VENV/bin" "$ECS_TOOLS_DIR/node/node_modules/.bin" "${CARGO_HOME:-$HOME/.cargo}/bin"; do
        case ":$PATH:" in *":$dir:"*) ;; *) PATH="$PATH:$dir" ;; esac
    done
    export PATH
}
