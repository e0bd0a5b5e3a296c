#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`, starting one if needed.
#
# Idempotent: does nothing when the engine already answers. Otherwise installs Debian's
# docker.io (when the `dockerd` daemon is missing), starts `dockerd` in the background on the
# socket the `docker` client talks to, and waits (bounded) until `docker info` answers.
# Exits non-zero, loudly, when the engine cannot be started: callers (make, CI, the e2e tests)
# must fail rather than silently skip.
#
# Environment:
#   DOCKER_WAIT_SECONDS  how long to wait for the engine (default 60)
#   DOCKERD_LOG          where dockerd's output goes (default /var/log/fanout-dockerd.log)
#   DOCKERD_ARGS         extra arguments for dockerd (default none)
#   DOCKER_HOST          honoured when it is a unix:// socket; dockerd is started on it
set -euo pipefail

WAIT_SECONDS="${DOCKER_WAIT_SECONDS:-60}"
LOG="${DOCKERD_LOG:-/var/log/fanout-dockerd.log}"
# dockerd's fallback when the first start fails (nested containers: no overlayfs, no iptables).
FALLBACK_ARGS="${DOCKERD_FALLBACK_ARGS:---storage-driver=vfs --iptables=false --ip6tables=false}"

say() { echo "ensure-docker: $*" >&2; }
die() {
    {
        echo
        echo "============================================================================"
        echo "ensure-docker: FAILED: $*"
        echo "ensure-docker: the Docker engine is required by 'sam local invoke' (make sam-invoke, e2e tests)."
        echo "============================================================================"
    } >&2
    exit 1
}

engine_up() { timeout 20 docker info >/dev/null 2>&1; }

# The socket the client uses. A client in /usr/local/bin (or a docker context) may differ from
# Debian's; dockerd is started on exactly the socket the client will talk to.
case "${DOCKER_HOST:-}" in
    "") SOCKET="unix:///var/run/docker.sock" ;;
    unix://*) SOCKET="$DOCKER_HOST" ;;
    *) SOCKET="" ;;
esac

if command -v docker >/dev/null 2>&1 && engine_up; then
    say "engine is up ($(docker version --format 'client {{.Client.Version}}, server {{.Server.Version}}' 2>/dev/null))"
    exit 0
fi

[ -n "$SOCKET" ] || die "DOCKER_HOST=$DOCKER_HOST is not a local unix socket and does not answer; cannot start an engine for it"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        die "not root and no password-less sudo: cannot install or start dockerd (start the Docker engine yourself)"
    fi
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "dockerd is missing and apt-get is not available to install docker.io"
    say "installing docker.io (Debian package) ..."
    $SUDO apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker.io >&2 \
        || die "apt-get install docker.io failed"
fi

# A docker context other than "default" would point the client elsewhere: use the socket explicitly.
export DOCKER_HOST="$SOCKET"
SOCK_PATH="${SOCKET#unix://}"

start_dockerd() {
    # $@: extra dockerd arguments. setsid + nohup: dockerd outlives this script, make and pytest.
    say "starting dockerd on $SOCKET (log: $LOG) $*"
    $SUDO mkdir -p "$(dirname "$LOG")"
    # shellcheck disable=SC2086
    $SUDO setsid nohup dockerd --host="$SOCKET" ${DOCKERD_ARGS:-} "$@" >>"$LOG" 2>&1 </dev/null &
}

wait_for_engine() {
    local deadline=$((SECONDS + WAIT_SECONDS))
    while [ "$SECONDS" -lt "$deadline" ]; do
        engine_up && return 0
        # dockerd gave up (died): no point waiting for the rest of the deadline.
        pgrep -x dockerd >/dev/null 2>&1 || return 1
        sleep 1
    done
    return 1
}

if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd is already running (pid $(pgrep -x dockerd | tr '\n' ' ')); waiting for it to answer on $SOCKET"
    if ! wait_for_engine; then
        die "dockerd is running but does not answer 'docker info' on $SOCKET within ${WAIT_SECONDS}s (is it listening on another socket? see its log, or stop it)"
    fi
else
    # A stale socket from a dead daemon would make dockerd refuse to start.
    [ -S "$SOCK_PATH" ] && $SUDO rm -f "$SOCK_PATH"
    start_dockerd
    if ! wait_for_engine; then
        say "dockerd did not come up; last lines of $LOG:"
        tail -n 25 "$LOG" >&2 || true
        if pgrep -x dockerd >/dev/null 2>&1; then
            die "dockerd is running but did not answer within ${WAIT_SECONDS}s (log: $LOG)"
        fi
        say "retrying with fallback options: $FALLBACK_ARGS"
        [ -S "$SOCK_PATH" ] && $SUDO rm -f "$SOCK_PATH"
        # shellcheck disable=SC2086
        start_dockerd $FALLBACK_ARGS
        if ! wait_for_engine; then
            tail -n 25 "$LOG" >&2 || true
            die "dockerd could not be started (log: $LOG)"
        fi
    fi
fi

say "engine is up ($(docker version --format 'client {{.Client.Version}}, server {{.Server.Version}}' 2>/dev/null))"
