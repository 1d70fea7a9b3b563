#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing. Idempotent; needs root
# (CI runs as root). Each later subsystem adds its packages here, never to a hand-run step.
set -euo pipefail

packages=(
  iproute2                        # network namespaces and veth pairs for root tests
  iputils-ping                    # ping through tunnels in root tests
  curl                            # /metrics and /dataplane scrapes from inside namespaces
  procps                          # sysctl (ip_forward, rp_filter inside namespaces)
  libcap2-bin                     # setcap: the image's file capabilities, checked as non-root (Helm tests)
  prometheus                      # promtool and a real Prometheus for the metrics/dashboard/alert tests (own ports, own storage)
  nftables                        # NAT router namespace (masquerade), ESP-in-UDP counters
  conntrack                       # the cluster failover tests' load balancer: flows pinned per node, deleted like kube-proxy does
  iperf3                          # throughput through tunnels (benchmarks)
  tshark                          # short underlay captures (ESP-in-UDP on 4500)
  python3-scapy                   # crafted IKE/ESP packets
  strongswan-charon               # /usr/lib/ipsec/charon: foreground daemon, custom STRONGSWAN_CONF
  strongswan-swanctl              # swanctl (vici client) and the vici plugin
  libstrongswan-standard-plugins  # openssl plugin: AES-GCM, ECP, MODP, x25519, chacha20poly1305
  libstrongswan-extra-plugins     # curve25519, chapoly (native implementations)
  libcharon-extra-plugins         # kernel-libipsec: userspace ESP on a TUN (the kernel has no ESP)
  strongswan-pki                  # pki: the certificate interop tests make their PKI with strongSwan's own tool
  libcharon-extauth-plugins       # eap-mschapv2, eap-identity, eap-radius: strongSwan road warriors that log in by EAP; xauth-generic: IKEv1 XAUTH clients
  freeradius                      # a real RADIUS server (own config dir and ports, started by the tests in a namespace)
  openssl                         # openssl dgst: an independent check of our signatures (SignatureAuthVectorTests)
  libipsec-mb1                    # intel-ipsec-mb 1.3: ESP AES-GCM-128/256 (the product's default, EspIpsecMbTests)
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
  # Packages that ship a service (prometheus, strongSwan's starter/charon) must not start it: tests run
  # their own instances (a system charon would hold UDP 500/4500 in the root namespace). A policy-rc.d
  # that already exists (e.g. Docker's) is left as it is.
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

# Nothing of strongSwan or FreeRADIUS may run or start at boot in the root namespace: the tests start
# their own charons and radiusd inside namespaces.
strongswan_services=(strongswan-starter strongswan ipsec freeradius)
for s in "${strongswan_services[@]}"; do
  if command -v systemctl >/dev/null 2>&1; then
    if [[ -d /run/systemd/system ]]; then
      systemctl disable --now "$s.service" >/dev/null 2>&1 || true
    elif [[ $(id -u) -eq 0 ]]; then
      systemctl disable "$s.service" >/dev/null 2>&1 || true   # no running systemd: drop boot links
    fi
  fi
  if command -v service >/dev/null && service "$s" status >/dev/null 2>&1; then
    service "$s" stop >/dev/null 2>&1 || true
  fi
done
exit 0
