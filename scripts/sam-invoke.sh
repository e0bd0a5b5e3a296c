#!/usr/bin/env bash
# `sam build` + `sam local invoke` of the function with an event file (what `make sam-invoke` runs).
#
#   scripts/sam-invoke.sh [EVENT] [-- EXTRA SAM LOCAL INVOKE ARGS]   (EVENT default events/direct.json)
#   scripts/sam-invoke.sh --prepare     Docker + build + image choice only; prints SAM_IMAGE=<mode>
#   scripts/sam-invoke.sh --build       the build only (what `make build` runs before `sam deploy`),
#                                       for arm64 (the template's default) unless SAM_ARCH says otherwise
#
# The build is `sam build` and then the function's bytecode: `sam build` ships no `.pyc`, and
# /var/task is read-only, so without them every cold start compiles every module it imports.
# They are compiled by the function's Python (3.13) with unchecked hashes: the zip's timestamps
# do not matter, and the code never changes under a deployed function.
#
# The function's response is the only thing on stdout; everything else goes to stderr.
#
# Image: the official public.ecr.aws/lambda/python:3.13-ARCH when it can be pulled, otherwise the
# locally built one from scripts/offline-lambda-image.sh, given to SAM with
# `--invoke-image IMAGE --skip-pull-image` (no container registry needed).
#
# Environment:
#   SAM                 the sam executable (default .venv/bin/sam, else sam on PATH)
#   SAM_FUNCTION        logical ID to invoke (default FanoutFunction)
#   SAM_ARCH            Architecture parameter override (default: this machine's, x86_64 / arm64)
#   SAM_IMAGE           auto (default) | official | official-local | offline; auto pulls the official
#                       image (SAM's tag python:3.13-ARCH) and otherwise uses a local copy of it or,
#                       failing that, the offline image
#   SAM_PULL_TIMEOUT    seconds allowed for the official image pull in auto mode (default 60)
#   SAM_SKIP_BUILD=1    reuse .aws-sam/build (the e2e tests build once per session)
#   SAM_BUILD_ARGS      extra `sam build` arguments (default --cached)
#   PYTHON313_PREFIX    a CPython 3.13 prefix whose bin/ is put first on PATH for `sam build`
#                       (default: `pyenv prefix 3.13.0` when pyenv has it)
#   OFFLINE_LAMBDA_IMAGE / OFFLINE_PYTHON_PREFIX   see scripts/offline-lambda-image.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

say() { echo "sam-invoke: $*" >&2; }
die() { echo "sam-invoke: ERROR: $*" >&2; exit 1; }

PREPARE=0
BUILD_ONLY=0
EVENT=""
EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        --prepare) PREPARE=1 ;;
        --build) BUILD_ONLY=1; PREPARE=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) [ -z "$EVENT" ] || die "one event file only (extra sam arguments go after --)"; EVENT="$1" ;;
    esac
    shift
done
EVENT="${EVENT:-events/direct.json}"
[ "$PREPARE" = 1 ] || [ -f "$EVENT" ] || die "event file $EVENT not found"

FUNCTION="${SAM_FUNCTION:-FanoutFunction}"
OFFLINE_IMAGE="${OFFLINE_LAMBDA_IMAGE:-fanout/lambda-python:3.13-offline}"
IMAGE_MODE="${SAM_IMAGE:-auto}"
case "$(uname -m)" in aarch64|arm64) HOST_ARCH=arm64 ;; *) HOST_ARCH=x86_64 ;; esac
ARCH="${SAM_ARCH:-$HOST_ARCH}"
# A build for deploying is for the template's default architecture unless told otherwise.
[ "$BUILD_ONLY" = 0 ] || ARCH="${SAM_ARCH:-arm64}"
PARAMS="Architecture=$ARCH"
# The tag SAM itself uses for a python3.13 function of this architecture.
OFFICIAL_IMAGE="public.ecr.aws/lambda/python:3.13-$ARCH"

if [ -n "${SAM:-}" ]; then :
elif [ -x "$ROOT/.venv/bin/sam" ]; then SAM="$ROOT/.venv/bin/sam"
elif command -v sam >/dev/null 2>&1; then SAM="$(command -v sam)"
else die "sam not found (make venv installs aws-sam-cli into .venv)"
fi
export SAM_CLI_TELEMETRY=0
# The Makefile exports PYTHONPATH for the tests; sam (and the pip it runs for python3.13) need none.
unset PYTHONPATH

# `sam build` runs pip with a python3.13 from PATH: put a 3.13 first.
PY_PREFIX="${PYTHON313_PREFIX:-}"
if [ -z "$PY_PREFIX" ] && command -v pyenv >/dev/null 2>&1; then
    PY_PREFIX="$(pyenv prefix 3.13.0 2>/dev/null || true)"
fi
if [ -n "$PY_PREFIX" ]; then
    [ -x "$PY_PREFIX/bin/python3.13" ] || die "no python3.13 in $PY_PREFIX/bin"
    export PATH="$PY_PREFIX/bin:$PATH"
    export OFFLINE_PYTHON_PREFIX="${OFFLINE_PYTHON_PREFIX:-$PY_PREFIX}"
fi
command -v python3.13 >/dev/null 2>&1 || die "python3.13 is not on PATH (set PYTHON313_PREFIX): sam build needs it"

[ "$BUILD_ONLY" = 1 ] || "$ROOT/scripts/ensure-docker.sh"

# ---- build ---------------------------------------------------------------------------------------
if [ "${SAM_SKIP_BUILD:-0}" != 1 ]; then
    say "sam build --parameter-overrides $PARAMS ${SAM_BUILD_ARGS---cached} (python: $(command -v python3.13))"
    t0=$SECONDS
    # shellcheck disable=SC2086
    "$SAM" build --parameter-overrides "$PARAMS" ${SAM_BUILD_ARGS---cached} >&2 || die "sam build failed"
    python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash ".aws-sam/build/$FUNCTION" >&2 \
        || die "compiling the function's bytecode failed"
    say "built (with bytecode) in $((SECONDS - t0))s"
    [ "$BUILD_ONLY" = 0 ] || exit 0
else
    [ -f .aws-sam/build/template.yaml ] || die "SAM_SKIP_BUILD=1 but .aws-sam/build/template.yaml is missing"
fi

# ---- image ---------------------------------------------------------------------------------------
if [ "$IMAGE_MODE" = auto ]; then
    plat="linux/amd64"; [ "$ARCH" = arm64 ] && plat="linux/arm64"
    say "trying to pull $OFFICIAL_IMAGE (timeout ${SAM_PULL_TIMEOUT:-60}s) ..."
    if timeout "${SAM_PULL_TIMEOUT:-60}" docker pull --quiet --platform "$plat" "$OFFICIAL_IMAGE" >/dev/null 2>&1; then
        IMAGE_MODE=official
    elif docker image inspect "$OFFICIAL_IMAGE" >/dev/null 2>&1; then
        say "the official image cannot be pulled but is present locally (docker load?): using it as is"
        IMAGE_MODE=official-local
    else
        say "the official image cannot be pulled: using the offline image $OFFLINE_IMAGE"
        IMAGE_MODE=offline
    fi
fi
IMAGE_ARGS=()
case "$IMAGE_MODE" in
    official) ;;  # SAM's own image handling (pulls when out of date)
    official-local) IMAGE_ARGS=(--skip-pull-image) ;;
    offline)
        # Builds the image only when missing or its recipe changed.
        "$ROOT/scripts/offline-lambda-image.sh" --tag "$OFFLINE_IMAGE" --arch "$ARCH" >/dev/null \
            || die "could not build the offline image $OFFLINE_IMAGE"
        IMAGE_ARGS=(--invoke-image "$OFFLINE_IMAGE" --skip-pull-image)
        ;;
    *) die "SAM_IMAGE must be auto, official, official-local or offline (not $IMAGE_MODE)" ;;
esac

if [ "$PREPARE" = 1 ]; then
    echo "SAM_IMAGE=$IMAGE_MODE"
    exit 0
fi

# ---- invoke --------------------------------------------------------------------------------------
say "sam local invoke $FUNCTION -e $EVENT ($IMAGE_MODE image)"
# `sam local` resolves `!Ref ReportsBucket` to the logical id: without real AWS resources the
# stores are switched off (scripts/sam-local-env.json; pass your own --env-vars after -- to override).
exec "$SAM" local invoke "$FUNCTION" \
    --template .aws-sam/build/template.yaml \
    --event "$EVENT" \
    --env-vars "${SAM_ENV_VARS:-scripts/sam-local-env.json}" \
    --parameter-overrides "$PARAMS" \
    "${IMAGE_ARGS[@]}" \
    "${EXTRA[@]}"
