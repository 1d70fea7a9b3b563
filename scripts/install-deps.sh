#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing. Idempotent; needs root
# (CI runs as root). Each later subsystem adds its packages here, never to a hand-run step.
set -euo pipefail

packages=(
  iproute2                        # network namespaces and veth pairs for root tests
  iputils-ping                    # reachability through tunnels
  procps                          # sysctl (ip_forward, rp_filter inside namespaces)
  nftables                        # NAT router namespace (masquerade), ESP-in-UDP counters
  iperf3                          # throughput through tunnels (benchmarks)
  tshark                          # short underlay captures (ESP-in-UDP on 4500)
  python3-scapy                   # crafted IKE/ESP packets
  strongswan-charon               # /usr/lib/ipsec/charon: foreground daemon, custom STRONGSWAN_CONF
  strongswan-swanctl              # swanctl (vici client) and the vici plugin
  libstrongswan-standard-plugins  # openssl plugin: AES-GCM, ECP, x25519, chacha20poly1305
  libstrongswan-extra-plugins     # curve25519, chapoly (native implementations)
  libcharon-extra-plugins         # kernel-libipsec: userspace ESP on a TUN (the kernel has no ESP)
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
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # No package may start a daemon while installing: a system charon would hold UDP 500/4500 in the
  # root namespace. A policy-rc.d that already exists (e.g. Docker's) is left as it is.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  trap 'if ((own_policy)); then rm -f "$policy"; fi' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Whatever the packages enabled or started (now or on an earlier run), the tests start their own
# charons inside namespaces; nothing of strongSwan may run or start at boot in the root namespace.
services=(strongswan-starter.service strongswan.service ipsec.service)
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  for s in "${services[@]}"; do
    if systemctl list-unit-files "$s" >/dev/null 2>&1; then
      systemctl disable --now "$s" >/dev/null 2>&1 || true
    fi
  done
elif command -v systemctl >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
  # No running systemd (containers): disabling only removes the boot-time links.
  for s in "${services[@]}"; do systemctl disable "$s" >/dev/null 2>&1 || true; done
fi
exit 0
