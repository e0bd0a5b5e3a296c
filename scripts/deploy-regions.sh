#!/usr/bin/env bash
# Deploy the stack to a home region and its probe regions (docs/deploy.md "Several regions"):
# what `make deploy-regions` runs.
#
#   scripts/deploy-regions.sh --home us-east-1 --probes "eu-west-1 ap-southeast-2" [--stack fanout]
#                             [--dry-run] [-- EXTRA SAM DEPLOY ARGS]
#
# The home region is deployed first (`sam deploy` with HomeRegion=<home>); its output
# RegionReportsQueueArn is read, and each probe region is deployed with HomeRegion and
# HomeReportsQueueArn set to it, so every probe region sends its regional monitors' reports to the
# home region's queue. The same stack name in every region (`fanout monitors apply --stack` reads
# each region's outputs). Run `make build` first: the same build is deployed everywhere.
#
# --dry-run prints the commands and runs none (the home queue's ARN as a placeholder: it is read
# from the home stack's outputs once that is deployed).
#
# Environment: SAM (default .venv/bin/sam, else sam on PATH), PYTHON (default python3), AWS_* as
# for sam itself.
set -euo pipefail

home="" probes="" stack="fanout" dry_run=0
extra=()
while (($#)); do
  case "$1" in
    --home) home="$2"; shift 2 ;;
    --probes) probes="$2"; shift 2 ;;
    --stack) stack="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "deploy-regions: unknown argument $1 (see the script's header)" >&2; exit 2 ;;
  esac
done

region_re='^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]{1,2}$'
if [[ ! "$home" =~ $region_re ]]; then
  echo "deploy-regions: --home needs a region (us-east-1), not '${home}'" >&2
  exit 2
fi
for p in $probes; do
  if [[ ! "$p" =~ $region_re ]]; then
    echo "deploy-regions: '${p}' in --probes is not a region" >&2
    exit 2
  fi
  if [[ "$p" == "$home" ]]; then
    echo "deploy-regions: the home region ${home} is not also a probe region" >&2
    exit 2
  fi
done
if [[ ! "$stack" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]]; then
  echo "deploy-regions: '${stack}' is not a stack name" >&2
  exit 2
fi

here="$(cd "$(dirname "$0")/.." && pwd)"
sam="${SAM:-}"
if [[ -z "$sam" ]]; then
  if [[ -x "$here/.venv/bin/sam" ]]; then sam="$here/.venv/bin/sam"; else sam="sam"; fi
fi

deploy() {  # deploy REGION PARAMETER-OVERRIDES...
  local region="$1"
  shift
  local cmd=("$sam" deploy --stack-name "$stack" --region "$region" --resolve-s3
    --capabilities CAPABILITY_IAM --no-confirm-changeset --no-fail-on-empty-changeset
    --parameter-overrides "$@" "${extra[@]}")
  if ((dry_run)); then
    local line
    line="$(printf '%q ' "${cmd[@]}")"
    echo "${line% }"
  else
    echo "deploy-regions: deploying ${stack} to ${region}" >&2
    "${cmd[@]}"
  fi
}

home_queue_arn() {
  if ((dry_run)); then
    echo "<RegionReportsQueueArn of ${stack} in ${home}>"
    return
  fi
  "$sam" list stack-outputs --stack-name "$stack" --region "$home" --output json |
    "${PYTHON:-python3}" -c 'import json, sys
print(next((o["OutputValue"] for o in json.load(sys.stdin) if o["OutputKey"] == "RegionReportsQueueArn"), ""))'
}

deploy "$home" "HomeRegion=${home}"
arn="$(home_queue_arn)"
if [[ -z "$arn" || "$arn" == "None" ]]; then
  echo "deploy-regions: stack ${stack} in ${home} has no output RegionReportsQueueArn" >&2
  exit 1
fi
for p in $probes; do
  deploy "$p" "HomeRegion=${home}" "HomeReportsQueueArn=${arn}"
done
