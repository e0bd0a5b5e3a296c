#!/usr/bin/env bash
# Make sure the fault tier (tests/faults) can make its faults: root, unshare, mount, ip, iptables.
#
# Idempotent: does nothing when every tool is there. Otherwise installs the Debian packages that
# carry them (util-linux, mount, iproute2, iptables). Exits non-zero, loudly, when it cannot:
# the fault tier must fail rather than silently skip.
set -euo pipefail

say() { echo "ensure-fault-tools: $*" >&2; }
die() { echo "ensure-fault-tools: FAILED: $* (the fault tier, tests/faults, needs them)" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "not root: network and mount namespaces, port 53 and iptables need root"

declare -A PACKAGE=([unshare]=util-linux [mount]=mount [ip]=iproute2 [iptables]=iptables)
missing=()
for tool in "${!PACKAGE[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and apt-get is not available"
    say "installing ${missing[*]} ..."
    apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
        || die "apt-get install ${missing[*]} failed"
fi
unshare --net --mount --fork true || die "cannot make network and mount namespaces (unshare --net --mount)"
unshare --net --fork sh -c 'iptables -L INPUT -n >/dev/null' || die "iptables does not work in a network namespace"
say "ready (unshare, mount, ip, iptables)"
