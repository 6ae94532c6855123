# shellcheck shell=bash
# Start and stop the tests' stand-ins on free loopback ports (sourced).
#
#   standins_start [STATE_DIR]  token server + registry pair and moto; exports the ECS_TEST_* contract
#   standins_fresh_registry     one more token server + registry pair with fresh storage; echoes
#                               its address (storage: $ECS_TEST_STATE_DIR/registry-PORT/storage)
#   standins_env [STATE_DIR]    prints the `export …` lines of a started state dir
#   standins_stop [STATE_DIR]   stops exactly the processes started under STATE_DIR (trap-friendly)
#
# Every process started is recorded in STATE_DIR/pids as "PID STARTTIME NAME"; stop kills only a
# PID whose start time still matches, so a recycled PID is never hit. Logs stay in STATE_DIR.
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ECS_TEST_PASSWORD_DEFAULT="testpass-S3cr3t"
ECS_TEST_SERVICE="registry.local"
ECS_TEST_ISSUER="ecs-poc-action-test-token-server"

# A port the kernel just handed out on 127.0.0.1 (released again for the server to bind).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_proc_starttime() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null; }

# _standins_launch DIR NAME LOG CMD… → runs CMD detached (own session, no stdin/stdout), records
# it in DIR/pids and sets _STANDIN_PID.
_standins_launch() {
    local dir="$1" name="$2" logfile="$3"
    shift 3
    # Own session (no terminal's SIGINT/SIGHUP) — but only without job control: there the job
    # would lead its process group, setsid would fork, and $! would not be the server.
    local setsid=()
    if [[ $- != *m* ]] && command -v setsid >/dev/null 2>&1; then setsid=(setsid); fi
    "${setsid[@]}" "$@" </dev/null >>"$logfile" 2>&1 &
    _STANDIN_PID=$!
    echo "$_STANDIN_PID $(_proc_starttime "$_STANDIN_PID") $name" >>"$dir/pids"
}

# _standins_wait NAME URL PID LOG → 0 once URL answers anything over HTTP; 1 if PID died or 30 s
# passed (after printing the log's tail).
_standins_wait() {
    local name="$1" url="$2" pid="$3" logfile="$4" i code
    for ((i = 0; i < 300; i++)); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)"
        [ -n "$code" ] && [ "$code" != 000 ] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited before answering on $url; last lines of $logfile:"
            tail -n 15 "$logfile" >&2
            return 1
        fi
        sleep 0.1
    done
    log "$name did not answer on $url within 30 s; last lines of $logfile:"
    tail -n 15 "$logfile" >&2
    return 1
}

# _standins_serve DIR NAME URL_TEMPLATE CMD… (CMD and URL may contain @PORT@) → starts CMD on a
# free port and waits for it, retrying with another port if it dies (a port taken in between).
# Sets _STANDIN_PORT.
_standins_serve() {
    local dir="$1" name="$2" url_t="$3"
    shift 3
    local attempt port arg cmd logfile
    for attempt in 1 2 3; do
        port="$(free_port)" || return 1
        cmd=()
        for arg in "$@"; do cmd+=("${arg//@PORT@/$port}"); done
        logfile="$dir/$name-$port.log"
        _standins_launch "$dir" "$name" "$logfile" "${cmd[@]}"
        if _standins_wait "$name" "${url_t//@PORT@/$port}" "$_STANDIN_PID" "$logfile"; then
            _STANDIN_PORT="$port"
            return 0
        fi
        kill "$_STANDIN_PID" 2>/dev/null || true
        log "$name: attempt $attempt failed"
    done
    return 1
}

# The signing key and self-signed certificate shared by the token servers of one state dir.
_standins_keys() {
    local dir="$1"
    [ -s "$dir/token-cert.pem" ] && return 0
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/token-key.pem" 2>/dev/null &&
        openssl req -new -x509 -key "$dir/token-key.pem" -out "$dir/token-cert.pem" -days 30 \
            -subj "/CN=$ECS_TEST_ISSUER" 2>/dev/null
}

# _standins_registry_pair STATE_DIR → starts a token server and a distribution registry using it,
# with storage of its own. Sets _PAIR_REGISTRY, _PAIR_TOKEN_URL, _PAIR_STATS_URL, _PAIR_STORAGE.
_standins_registry_pair() {
    local dir="$1" token_port reg_dir
    _standins_keys "$dir" || { log "openssl failed"; return 1; }
    _standins_serve "$dir" token-server "http://127.0.0.1:@PORT@/healthz" \
        "$ECS_TEST_VENV/bin/python" "$REPO/tests/support/token_server.py" --host 127.0.0.1 --port @PORT@ \
        --key "$dir/token-key.pem" --cert "$dir/token-cert.pem" --issuer "$ECS_TEST_ISSUER" || return 1
    token_port="$_STANDIN_PORT"
    # The registry's own directory is named after the token port (known now); its config is
    # written per attempt because the registry port is only known then.
    reg_dir="$dir/registry-t$token_port"
    mkdir -p "$reg_dir/storage"
    cat >"$reg_dir/config.tmpl.yml" <<YAML
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $reg_dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:__REGISTRY_PORT__
  secret: $(openssl rand -hex 16)
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  token:
    realm: http://127.0.0.1:$token_port/token
    service: $ECS_TEST_SERVICE
    issuer: $ECS_TEST_ISSUER
    rootcertbundle: $dir/token-cert.pem
YAML
    # shellcheck disable=SC2016 # $1/$2 belong to the inner bash
    _standins_serve "$dir" registry "http://127.0.0.1:@PORT@/v2/" \
        bash -c 'sed "s/__REGISTRY_PORT__/$1/" "$2/config.tmpl.yml" >"$2/config-$1.yml" && exec docker-registry serve "$2/config-$1.yml"' \
        registry @PORT@ "$reg_dir" || return 1
    _PAIR_REGISTRY="127.0.0.1:$_STANDIN_PORT"
    _PAIR_TOKEN_URL="http://127.0.0.1:$token_port/token"
    _PAIR_STATS_URL="http://127.0.0.1:$token_port/stats"
    _PAIR_STORAGE="$reg_dir/storage"
}

standins_env() {
    local dir="${1:-${ECS_TEST_STATE_DIR:-}}"
    if [ -z "$dir" ] || [ ! -f "$dir/env" ]; then log "no stand-ins env under '${dir}'"; return 1; fi
    cat "$dir/env"
}

standins_start() {
    local dir="${1:-$REPO/.stand-ins/$(date +%Y%m%d-%H%M%S)-$$}"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    export ECS_TEST_STATE_DIR="$dir"
    [ -x "$ECS_TEST_VENV/bin/python" ] || { log "no venv at $ECS_TEST_VENV: source scripts/lib/install.sh and run install_all"; return 1; }
    command -v docker-registry >/dev/null 2>&1 || { log "docker-registry is not installed"; return 1; }
    log "stand-ins: starting under $dir"

    _standins_registry_pair "$dir" || return 1
    _standins_serve "$dir" moto "http://127.0.0.1:@PORT@/moto-api/" \
        "$ECS_TEST_VENV/bin/python" "$REPO/tests/support/moto_server.py" -H 127.0.0.1 -p @PORT@ || return 1
    local moto_port="$_STANDIN_PORT"

    # Hermetic AWS settings for the tests: no shared config of the machine's user, and never the
    # EC2 metadata endpoint (a non-loopback address) when a test builds an SDK client.
    : >"$dir/aws-config"
    : >"$dir/aws-credentials"
    tools_path
    {
        printf 'export %s=%q\n' \
            ECS_TEST_STATE_DIR "$dir" \
            ECS_TEST_VENV "$ECS_TEST_VENV" \
            ECS_TEST_REGISTRY "$_PAIR_REGISTRY" \
            ECS_TEST_REGISTRY_USERNAME testuser \
            ECS_TEST_REGISTRY_PASSWORD "$ECS_TEST_PASSWORD_DEFAULT" \
            ECS_TEST_REGISTRY_SHORTLIVED_USERNAME shortlived \
            ECS_TEST_REGISTRY_PULLONLY_USERNAME pullonly \
            ECS_TEST_REGISTRY_SERVICE "$ECS_TEST_SERVICE" \
            ECS_TEST_TOKEN_URL "$_PAIR_TOKEN_URL" \
            ECS_TEST_TOKEN_STATS_URL "$_PAIR_STATS_URL" \
            ECS_TEST_REGISTRY_STORAGE "$_PAIR_STORAGE" \
            ECS_TEST_MOTO_URL "http://127.0.0.1:$moto_port" \
            AWS_CONFIG_FILE "$dir/aws-config" \
            AWS_SHARED_CREDENTIALS_FILE "$dir/aws-credentials" \
            AWS_EC2_METADATA_DISABLED true \
            NO_PROXY "127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" \
            PATH "$PATH"
    } >"$dir/env"
    # shellcheck source=/dev/null
    source "$dir/env"
    log "stand-ins: registry $ECS_TEST_REGISTRY (token $ECS_TEST_TOKEN_URL), moto $ECS_TEST_MOTO_URL"
}

# One more registry with its own token server and empty storage (e.g. one per benchmark round).
# Echoes the registry's address; stopped with the rest by standins_stop.
standins_fresh_registry() {
    local dir="${1:-${ECS_TEST_STATE_DIR:-}}"
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
        log "standins_fresh_registry: no state dir (start the stand-ins first)"
        return 1
    fi
    _standins_registry_pair "$dir" >&2 || return 1
    echo "$_PAIR_REGISTRY"
}

standins_stop() {
    local dir="${1:-${ECS_TEST_STATE_DIR:-}}"
    if [ -z "$dir" ] || [ ! -f "$dir/pids" ]; then return 0; fi
    local pid start name live=() i
    while read -r pid start name; do
        [ -n "$pid" ] || continue
        if [ -n "$start" ] && [ "$(_proc_starttime "$pid")" = "$start" ]; then
            kill -TERM "$pid" 2>/dev/null && live+=("$pid")
        fi
    done <"$dir/pids"
    for ((i = 0; i < 50 && ${#live[@]} > 0; i++)); do
        local still=()
        for pid in "${live[@]}"; do kill -0 "$pid" 2>/dev/null && still+=("$pid"); done
        live=("${still[@]}")
        [ "${#live[@]}" -gt 0 ] && sleep 0.1
    done
    for pid in "${live[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    mv "$dir/pids" "$dir/pids.stopped"
    # Registry storage can be hundreds of MB after push benchmarks; logs and configs stay.
    if [ -z "${KEEP_STAND_INS_STORAGE:-}" ]; then
        rm -rf "$dir"/registry-t*/storage
    fi
    log "stand-ins: stopped ($dir)"
}
