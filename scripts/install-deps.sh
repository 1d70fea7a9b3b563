#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing. Idempotent; needs root
# (CI runs as root). Each later subsystem adds its packages here, never to a hand-run step.
set -euo pipefail

packages=(
  iproute2   # network namespaces and veth pairs for root tests
  iputils-ping  # ping through tunnels in root tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages ${missing[*]} and not root; install them first" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
