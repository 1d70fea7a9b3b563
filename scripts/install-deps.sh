#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing. Idempotent; needs root
# (CI runs as root). Each later subsystem adds its packages here, never to a hand-run step.
set -euo pipefail

packages=(
  iproute2   # network namespaces and veth pairs for root tests
  iputils-ping  # ping through tunnels in root tests
  prometheus # promtool and a real Prometheus for the metrics/dashboard/alert tests (own ports, own storage)
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
  # Packages that ship a service (prometheus) must not start it: tests run their own instances.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# A system Prometheus left running (e.g. started by an earlier install) would hold port 9090.
if command -v service >/dev/null && service prometheus status >/dev/null 2>&1; then
  service prometheus stop >/dev/null 2>&1 || true
fi
