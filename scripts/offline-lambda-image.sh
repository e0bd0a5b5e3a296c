#!/usr/bin/env bash
# Build a Lambda-compatible python3.13 base image locally, with no container registry.
#
#   scripts/offline-lambda-image.sh [--force] [--tag TAG] [--arch x86_64] [PYTHON_PREFIX]
#
# For `sam local invoke --invoke-image TAG --skip-pull-image` on machines that cannot reach
# public.ecr.aws. The image is:
#   - a minimal Debian root file system (mmdebstrap --variant=minbase, same release and mirror
#     as this machine's apt sources) with the shared libraries CPython's extension modules need;
#   - the CPython 3.13 at PYTHON_PREFIX, copied in at the same path it was built for (its
#     rpath and sysconfig point there); without site-packages, so nothing leaks from the host;
#   - awslambdaric (same version as the dev requirements) in /var/runtime, and an executable
#     /var/runtime/bootstrap that execs `python3.13 -m awslambdaric "$_HANDLER"`; SAM adds the
#     runtime interface emulator at /var/rapid and starts it, and it runs that bootstrap;
#   - the official image's environment: LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR, WORKDIR /var/task,
#     PATH, LD_LIBRARY_PATH, LANG, TZ, and /lambda-entrypoint.sh as the entry point.
#
# Idempotent: when TAG exists and was built from the same recipe (a label records a hash of
# this script, the prefix and the awslambdaric version) nothing is done; --force rebuilds.
# PYTHON_PREFIX defaults to $OFFLINE_PYTHON_PREFIX, else `pyenv prefix 3.13.0`, else the prefix of
# python3.13 on PATH (it must be a self-contained prefix, not /usr).
# Prints the image tag on stdout as its last line.
set -euo pipefail

TAG="${OFFLINE_LAMBDA_IMAGE:-fanout/lambda-python:3.13-offline}"
ARCH="x86_64"
FORCE=0
PREFIX="${OFFLINE_PYTHON_PREFIX:-}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
say() { echo "offline-lambda-image: $*" >&2; }
die() { echo "offline-lambda-image: ERROR: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --tag) TAG="$2"; shift ;;
        --tag=*) TAG="${1#--tag=}" ;;
        --arch) ARCH="$2"; shift ;;
        --arch=*) ARCH="${1#--arch=}" ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) PREFIX="$1" ;;
    esac
    shift
done

# ---- inputs ------------------------------------------------------------------------------------
if [ -z "$PREFIX" ] && command -v pyenv >/dev/null 2>&1; then
    PREFIX="$(pyenv prefix 3.13.0 2>/dev/null || true)"
fi
if [ -z "$PREFIX" ] && command -v python3.13 >/dev/null 2>&1; then
    PREFIX="$(python3.13 -c 'import sys; print(sys.base_prefix)')"
fi
[ -n "$PREFIX" ] || die "no CPython 3.13 found (pyenv 3.13.0 or python3.13 on PATH): pass its prefix"
PREFIX="$(cd "$PREFIX" && pwd)"
case "$PREFIX" in
    /|/usr|/usr/local|/bin|/lib|/var|/var/*|/opt) die "prefix $PREFIX would overwrite the root fs: use a self-contained CPython build (pyenv, python-build)" ;;
esac
PY="$PREFIX/bin/python3.13"
[ -x "$PY" ] || die "$PY not found: PYTHON_PREFIX must be a CPython 3.13 installation prefix"
[ "$("$PY" -c 'import sys; print(sys.prefix)')" = "$PREFIX" ] \
    || die "$PY reports another sys.prefix; pass the prefix it was built for"

HOST_ARCH="$(uname -m)"
case "$ARCH" in
    x86_64|amd64) ARCH=x86_64; DEB_ARCH=amd64 ;;
    arm64|aarch64) ARCH=arm64; DEB_ARCH=arm64 ;;
    *) die "unsupported arch $ARCH" ;;
esac
[ "$ARCH" = "$HOST_ARCH" ] || { [ "$ARCH" = arm64 ] && [ "$HOST_ARCH" = aarch64 ]; } \
    || die "arch $ARCH differs from this machine's ($HOST_ARCH): the copied CPython is a native build"

# awslambdaric: the version pinned in the dev requirements, so the image runs what the tests use.
RIC_SPEC="awslambdaric"
if [ -f "$ROOT/requirements-dev.txt" ]; then
    pin="$(grep -iE '^awslambdaric==' "$ROOT/requirements-dev.txt" | head -n1 || true)"
    [ -n "$pin" ] && RIC_SPEC="$pin"
fi

# Debian release and mirror: the ones this machine's apt uses (the CPython was built against them).
CODENAME="$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"' || true)"
SUITE="${DEBIAN_SUITE:-${CODENAME:-bookworm}}"
MIRROR="${DEBIAN_MIRROR:-}"
if [ -z "$MIRROR" ]; then
    MIRROR="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
fi
if [ -z "$MIRROR" ]; then
    MIRROR="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '{for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -E '/debian/?$' | head -n1 || true)"
fi
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
MIRROR="${MIRROR%/}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-${MIRROR}-security}"

PACKAGES="ca-certificates libssl3 libffi8 zlib1g libsqlite3-0 libbz2-1.0 liblzma5 libexpat1 libuuid1 tzdata"

RECIPE="$( { cat "$0"; echo "$PREFIX $ARCH $RIC_SPEC $SUITE $PACKAGES"; "$PY" -VV; } | sha256sum | cut -c1-16)"

# ---- idempotence -------------------------------------------------------------------------------
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (run scripts/ensure-docker.sh)"
if [ "$FORCE" = 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
    have="$(docker image inspect --format '{{ index .Config.Labels "fanout.offline-image.recipe" }}' "$TAG" 2>/dev/null || true)"
    if [ "$have" = "$RECIPE" ]; then
        say "$TAG is up to date (recipe $RECIPE); --force rebuilds"
        echo "$TAG"
        exit 0
    fi
    say "$TAG exists but was built from another recipe (${have:-none} != $RECIPE): rebuilding"
fi

# ---- build -------------------------------------------------------------------------------------
if ! command -v mmdebstrap >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "mmdebstrap is missing (apt-get install mmdebstrap)"
    say "installing mmdebstrap ..."
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2
fi

START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/offline-lambda-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
RFS="$WORK/rootfs"

say "root fs: debian $SUITE/$DEB_ARCH minbase from $MIRROR (+ $PACKAGES)"
# shellcheck disable=SC2016  # "$1" in the hook is the root fs path, expanded by mmdebstrap's shell
mmdebstrap --quiet --variant=minbase --architectures="$DEB_ARCH" \
    --include="${PACKAGES// /,}" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "$SUITE" "$RFS" \
    "deb $MIRROR $SUITE main" \
    "deb $MIRROR $SUITE-updates main" \
    "deb $SECURITY_MIRROR $SUITE-security main" >&2

say "CPython: $PREFIX (copied to the same path, without site-packages, tests, IDLE and Tk)"
mkdir -p "$RFS$PREFIX"
tar -C "$PREFIX" -cf - \
    --exclude="./lib/python3.13/site-packages/*" \
    --exclude="./lib/python3.13/test" \
    --exclude="./lib/python3.13/idlelib" \
    --exclude="./lib/python3.13/turtledemo" \
    --exclude="./lib/python3.13/tkinter" \
    --exclude="./lib/python3.13/lib-dynload/_tkinter*" \
    . | tar -C "$RFS$PREFIX" -xf -

say "runtime: $RIC_SPEC into /var/runtime"
mkdir -p "$RFS/var/runtime" "$RFS/var/task" "$RFS/opt"
"$PY" -m pip install --quiet --disable-pip-version-check --no-compile --root-user-action=ignore --only-binary=:all: \
    --target "$RFS/var/runtime" "$RIC_SPEC" >&2
rm -rf "$RFS/var/runtime/bin"

cat >"$RFS/var/runtime/bootstrap" <<EOF
#!/bin/sh
# Lambda runtime bootstrap (started by the runtime interface emulator, /var/rapid/aws-lambda-rie).
export AWS_EXECUTION_ENV="\${AWS_EXECUTION_ENV:-AWS_Lambda_python3.13}"
export PYTHONPATH="/var/task:/opt/python/lib/python3.13/site-packages:/opt/python:/var/runtime\${PYTHONPATH:+:\$PYTHONPATH}"
HANDLER="\${_HANDLER:-\${AWS_LAMBDA_FUNCTION_HANDLER:-}}"
[ -n "\$HANDLER" ] || { echo "bootstrap: no handler (_HANDLER / AWS_LAMBDA_FUNCTION_HANDLER)" >&2; exit 1; }
cd "\${LAMBDA_TASK_ROOT:-/var/task}"
exec $PREFIX/bin/python3.13 -m awslambdaric "\$HANDLER"
EOF
cat >"$RFS/lambda-entrypoint.sh" <<'EOF'
#!/bin/sh
# Entry point of the image (as in the official one). SAM overrides it with the emulator.
if [ $# -ge 1 ]; then export _HANDLER="$1"; fi
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ] && [ -x /var/rapid/aws-lambda-rie ]; then
    exec /var/rapid/aws-lambda-rie /var/runtime/bootstrap
fi
exec /var/runtime/bootstrap
EOF
chmod 0755 "$RFS/var/runtime/bootstrap" "$RFS/lambda-entrypoint.sh"
ln -sf python3.13 "$RFS$PREFIX/bin/python" 2>/dev/null || true

# Smoke test inside the root fs before importing: the interpreter, its C extensions, the runtime.
chroot "$RFS" "$PREFIX/bin/python3.13" -c '
import ssl, ctypes, sqlite3, bz2, lzma, zlib, hashlib, uuid, pyexpat, decimal, json, zoneinfo, sys
sys.path.insert(0, "/var/runtime"); import awslambdaric.bootstrap
print("smoke ok:", sys.version.split()[0], ssl.OPENSSL_VERSION)' >&2 \
    || die "the interpreter does not work inside the root fs (a missing shared library?)"

LD_PATH="$PREFIX/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
say "importing into docker as $TAG"
tar -C "$RFS" --numeric-owner -cf - . | docker import \
    --platform "linux/$DEB_ARCH" \
    --change "ENV PATH=$PREFIX/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/bin" \
    --change "ENV LD_LIBRARY_PATH=$LD_PATH" \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV TZ=:/etc/localtime" \
    --change "ENV LAMBDA_TASK_ROOT=/var/task" \
    --change "ENV LAMBDA_RUNTIME_DIR=/var/runtime" \
    --change "WORKDIR /var/task" \
    --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
    --change "LABEL fanout.offline-image.recipe=$RECIPE" \
    --change "LABEL fanout.offline-image.python-prefix=$PREFIX" \
    --message "offline Lambda python3.13 ($SUITE, $RIC_SPEC)" \
    - "$TAG" >&2

# SAM layers the emulator on top as REPO:rapid-ARCH and, with --skip-pull-image, reuses that
# image as long as it exists: drop it so the next invoke rebuilds it on the new base.
REPO="${TAG%:*}"
for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "$REPO" | grep -E ':(.*-)?rapid-' || true); do
    say "removing stale SAM emulator image $old"
    docker rmi -f "$old" >/dev/null 2>&1 || true
done

say "built $TAG in $((SECONDS - START))s ($(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$TAG"
