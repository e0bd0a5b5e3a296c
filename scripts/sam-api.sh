#!/usr/bin/env bash
# `sam build` + `sam local start-api`: the HTTP API on 127.0.0.1 in the Lambda image (what `make api` runs).
#
#   scripts/sam-api.sh [-- EXTRA SAM LOCAL START-API ARGS]
#
# Docker, the build and the image (official when it can be pulled, else the offline one) are
# prepared as scripts/sam-invoke.sh does. Stores are off (scripts/sam-local-env.json) unless
# STORE=moto: then moto runs on the Docker bridge's gateway address, where the function's container
# can reach it, with the template's bucket and tables, and the function is pointed at it.
#
# Environment: API_PORT (default 3000), STORE (off | moto), and what scripts/sam-invoke.sh reads
# (SAM_IMAGE, SAM_ARCH, SAM_SKIP_BUILD, PYTHON313_PREFIX, ...).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
say() { echo "sam-api: $*" >&2; }
die() { echo "sam-api: ERROR: $*" >&2; exit 1; }

EXTRA=()
if [ "${1:-}" = "--" ]; then shift; EXTRA=("$@"); fi

MODE_LINE="$("$ROOT/scripts/sam-invoke.sh" --prepare | tail -n 1)"
IMAGE_MODE="${MODE_LINE#SAM_IMAGE=}"
OFFLINE_IMAGE="${OFFLINE_LAMBDA_IMAGE:-fanout/lambda-python:3.13-offline}"
case "$(uname -m)" in aarch64|arm64) HOST_ARCH=arm64 ;; *) HOST_ARCH=x86_64 ;; esac
ARCH="${SAM_ARCH:-$HOST_ARCH}"
IMAGE_ARGS=()
case "$IMAGE_MODE" in
    official) ;;
    official-local) IMAGE_ARGS=(--skip-pull-image) ;;
    offline) IMAGE_ARGS=(--invoke-image "$OFFLINE_IMAGE" --skip-pull-image) ;;
    *) die "unexpected image mode $IMAGE_MODE" ;;
esac

SAM="${SAM:-$ROOT/.venv/bin/sam}"
ENV_FILE="${SAM_ENV_VARS:-scripts/sam-local-env.json}"
if [ "${STORE:-off}" = moto ]; then
    GATEWAY="$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)"
    # Older engines leave the gateway out of IPAM: the bridge interface's address is the same.
    [ -n "$GATEWAY" ] || GATEWAY="$(ip -4 -o addr show docker0 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')"
    [ -n "$GATEWAY" ] || die "no Docker bridge gateway address for moto"
    ENV_FILE="$(mktemp -t fanout-api-env.XXXXXX.json)"
    say "moto on $GATEWAY (the containers' way to this machine)"
    "$ROOT/.venv/bin/python" -m devtools.local_aws --host "$GATEWAY" --env-file "$ENV_FILE" &
    MOTO_PID=$!
    trap 'kill "$MOTO_PID" 2>/dev/null || true; rm -f "$ENV_FILE"' EXIT
    for _ in $(seq 1 100); do [ -s "$ENV_FILE" ] && break; sleep 0.2; done
    [ -s "$ENV_FILE" ] || die "moto did not start"
    # sam local hands the container this machine's credentials: moto's.
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
    unset AWS_PROFILE AWS_SESSION_TOKEN
fi

export SAM_CLI_TELEMETRY=0
unset PYTHONPATH
say "sam local start-api on http://127.0.0.1:${API_PORT:-3000} ($IMAGE_MODE image, stores ${STORE:-off})"
"$SAM" local start-api \
    --template .aws-sam/build/template.yaml \
    --host 127.0.0.1 --port "${API_PORT:-3000}" \
    --env-vars "$ENV_FILE" \
    --parameter-overrides "Architecture=$ARCH" \
    --warm-containers EAGER \
    "${IMAGE_ARGS[@]}" \
    "${EXTRA[@]}"
