#!/usr/bin/env bash
# Records one IKEv1 exchange between two stock charons as a known-answer fixture for the IKEv1 key derivation and
# message protection (Concentrator.Tests/Ike/Crypto/V1/Fixtures/strongswan-ikev1-psk-main-quick.txt).
#
#   sudo bash scripts/record-ikev1-exchange.sh [OUTPUT]
#
# Needs root (network namespaces, a veth pair, TUN devices for kernel-libipsec), Debian's strongSwan 5.9.8 charon and
# swanctl, and tshark's dumpcap. NOT run in CI: the fixture it writes is committed and the tests read only that file.
# Two namespaces (random names, removed on exit with every process started here) joined by a veth pair; charon in each
# with `version = 1`, PSK, main mode, quick mode with PFS, `encap = yes` (kernel-libipsec does ESP-in-UDP only, so both
# float to 4500 after message 4) and file logging at ike 4, chd 4, cfg 2, enc 4, knl 1. Level 4 prints, in
# src/libcharon/sa/ikev1/keymat_v1.c and iv_manager.c: the shared DH secret, SKEYID, SKEYID_d/a/e, Ka, the initial IV,
# the quick mode DH secret, both SA seeds and both directions' ESP keys; level 3 prints HASH_I/HASH_R and the quick
# mode hashes. dumpcap records every ISAKMP datagram on the veth; the fixture holds each message (non-ESP marker
# stripped) and the initiator's logged values, each checked against the responder's log where both log it.
set -euo pipefail

out="${1:-$(cd "$(dirname "$0")/.." && pwd)/Concentrator.Tests/Ike/Crypto/V1/Fixtures/strongswan-ikev1-psk-main-quick.txt}"
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
for tool in /usr/lib/ipsec/charon swanctl dumpcap python3 ip; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

suffix="$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
nsi="v1wi-$suffix"
nsr="v1wr-$suffix"
work="$(mktemp -d /tmp/v1witness.XXXXXX)"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$nsi" 2>/dev/null || true
  ip netns del "$nsr" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$nsi"
ip netns add "$nsr"
ip -n "$nsi" link add vi type veth peer name vr netns "$nsr"
ip -n "$nsi" addr add 10.201.0.1/24 dev vi
ip -n "$nsr" addr add 10.201.0.2/24 dev vr
for ns in "$nsi" "$nsr"; do
  ip -n "$ns" link set lo up
done
ip -n "$nsi" link set vi up
# kernel-libipsec routes a policy through its TUN from a local address inside the local traffic selector.
ip -n "$nsi" addr add 10.210.1.1/32 dev lo
ip -n "$nsr" addr add 10.210.2.1/32 dev lo
ip -n "$nsr" link set vr up

conf() { # NAME
  local dir="$work/$1"
  mkdir -p "$dir/swanctl"
  cat > "$dir/strongswan.conf" <<EOF
charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac kdf kernel-libipsec kernel-netlink socket-default vici
  plugins_dir = /usr/lib/ipsec/plugins
  retransmit_timeout = 2.0
  retransmit_tries = 3
  filelog {
    diag {
      path = $dir/charon.log
      append = no
      flush_line = yes
      default = 1
      ike = 4
      chd = 4
      cfg = 2
      enc = 4
      knl = 1
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
  plugins {
    vici {
      socket = unix://$dir/charon.vici
    }
    kernel-libipsec {
      allow_peer_ts = no
    }
  }
}
EOF
}

swanctl_conf() { # NAME LOCAL REMOTE LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS
  cat > "$work/$1/swanctl/swanctl.conf" <<EOF
connections {
  v1 {
    version = 1
    local_addrs = $2
    remote_addrs = $3
    encap = yes
    proposals = aes128-sha256-modp2048
    local {
      auth = psk
      id = $4
    }
    remote {
      auth = psk
      id = $5
    }
    children {
      net {
        local_ts = $6
        remote_ts = $7
        esp_proposals = aes128-sha256-modp2048
        mode = tunnel
      }
    }
  }
}
secrets {
  ike-v1 {
    id-i = initiator.v1witness.example
    id-r = responder.v1witness.example
    secret = "v1witness-recorded-psk"
  }
}
EOF
}

start_charon() { # NS NAME
  local dir="$work/$2"
  ip netns exec "$1" env STRONGSWAN_CONF="$dir/strongswan.conf" \
    unshare -m sh -c 'mount -t tmpfs tmpfs /run && exec /usr/lib/ipsec/charon' >"$dir/stdout" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    if [ -S "$dir/charon.vici" ] && swanctl --stats --uri "unix://$dir/charon.vici" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "charon $2 did not start" >&2
  cat "$dir/stdout" >&2
  exit 1
}

conf i
conf r
swanctl_conf i 10.201.0.1 10.201.0.2 initiator.v1witness.example responder.v1witness.example 10.210.1.0/24 10.210.2.0/24
swanctl_conf r 10.201.0.2 10.201.0.1 responder.v1witness.example initiator.v1witness.example 10.210.2.0/24 10.210.1.0/24

ip netns exec "$nsr" dumpcap -q -P -i vr -f "udp port 500 or udp port 4500" -w "$work/ike.pcap" >"$work/dumpcap.log" 2>&1 &
pids+=($!)
sleep 2

start_charon "$nsi" i
start_charon "$nsr" r
for n in i r; do
  SWANCTL_DIR="$work/$n/swanctl" swanctl --load-all --noprompt --uri "unix://$work/$n/charon.vici" >/dev/null
done
SWANCTL_DIR="$work/i/swanctl" timeout 60 swanctl --initiate --ike v1 --child net --timeout 45 --uri "unix://$work/i/charon.vici" >"$work/initiate.log" 2>&1 \
  || { cat "$work/initiate.log" >&2; echo "initiate failed" >&2; exit 1; }
sleep 2
kill "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true

charon_version="$(dpkg-query -W -f '${Version}' strongswan-charon 2>/dev/null || echo unknown)"
python3 - "$work" "$out" "$charon_version" <<'PY'
import re, struct, sys, datetime, os
work, out, version = sys.argv[1:4]

def datagrams(path):
    data = open(path, 'rb').read()
    magic = struct.unpack('<I', data[:4])[0]
    assert magic == 0xa1b2c3d4, 'pcap (little-endian, microseconds) expected'
    at, result = 24, []
    while at + 16 <= len(data):
        _, _, caplen, _ = struct.unpack('<IIII', data[at:at + 16])
        frame = data[at + 16:at + 16 + caplen]
        at += 16 + caplen
        if frame[12:14] != b'\x08\x00': continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        src, dst = ip[12:16], ip[16:20]
        sport, dport = struct.unpack('>HH', ip[ihl:ihl + 4])
        payload = ip[ihl + 8:]
        if 4500 in (sport, dport):
            if len(payload) < 4 or payload[:4] != b'\0\0\0\0': continue  # keepalive or ESP
            payload = payload[4:]
        result.append(('10.201.0.1' if src[3] == 1 else '10.201.0.2', payload))
    return result

msgs = datagrams(os.path.join(work, 'ike.pcap'))
main = [(s, p) for s, p in msgs if p[18] == 2]
quick = [(s, p) for s, p in msgs if p[18] == 32]
assert len(main) == 6, f'{len(main)} main mode messages'
assert len(quick) == 3, f'{len(quick)} quick mode messages'

def values(log):
    text = open(log).read().split('\n')
    found, at = [], 0
    while at < len(text):
        m = re.search(r'\] (.*?) => (\d+) bytes @ 0x[0-9a-f]+$', text[at])
        if not m:
            at += 1
            continue
        name, count, hexs = m.group(1), int(m.group(2)), ''
        at += 1
        while len(hexs) < 2 * count and at < len(text):
            h = re.match(r'.*?\s+\d+: ((?:[0-9A-F]{2} ?)+)', text[at])
            assert h, text[at]
            hexs += h.group(1).replace(' ', '').lower()
            at += 1
        found.append((name, hexs[:2 * count]))
    return found

ilog = values(os.path.join(work, 'i', 'charon.log'))
rlog = values(os.path.join(work, 'r', 'charon.log'))

def first(log, name):
    for n, v in log:
        if n == name: return v
    raise KeyError(name)

def nth(log, name, k):
    return [v for n, v in log if n == name][k]

names = ['shared Diffie Hellman secret', 'SKEYID', 'SKEYID_d', 'SKEYID_a', 'SKEYID_e', 'encryption key Ka',
         'initial IV', 'DH secret', 'encryption initiator key', 'encryption responder key',
         'integrity initiator key', 'integrity responder key']
lines = []
for n in names:
    v = first(ilog, n)
    assert v == first(rlog, n), f'{n} differs between the two charons'
    lines.append((n, v))
lines.append(('HASH_I', first(ilog, 'HASH_I')))
lines.append(('HASH_R', first(rlog, 'HASH_R')))
for n in ['Hash(1)', 'Hash(2)', 'Hash(3)']:
    assert first(ilog, n) == first(rlog, n), f'{n} differs between the two charons'
    lines.append((n, first(ilog, n)))

keys = {'shared Diffie Hellman secret': 'gxy', 'SKEYID': 'skeyid', 'SKEYID_d': 'skeyid_d', 'SKEYID_a': 'skeyid_a',
        'SKEYID_e': 'skeyid_e', 'encryption key Ka': 'ka', 'initial IV': 'phase1_iv', 'DH secret': 'qm_gxy',
        'encryption initiator key': 'esp_encr_i', 'encryption responder key': 'esp_encr_r',
        'integrity initiator key': 'esp_integ_i', 'integrity responder key': 'esp_integ_r',
        'HASH_I': 'hash_i', 'HASH_R': 'hash_r', 'Hash(1)': 'qm_hash1', 'Hash(2)': 'qm_hash2', 'Hash(3)': 'qm_hash3'}

with open(out, 'w') as f:
    f.write('# IKEv1 main mode (PSK) + quick mode (PFS) between two stock charons, recorded by\n')
    f.write('# scripts/record-ikev1-exchange.sh (needs root; not run in CI) on '
            + datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC') + '.\n')
    f.write(f'# strongSwan {version} (Debian, charon with kernel-libipsec), Linux {os.uname().release}.\n')
    f.write('# Initiator 10.201.0.1 id initiator.v1witness.example, responder 10.201.0.2 id responder.v1witness.example,\n')
    f.write('# PSK "v1witness-recorded-psk", IKE aes128-sha256-modp2048, ESP aes128-sha256-modp2048 (PFS), encap = yes,\n')
    f.write('# tunnel 10.210.1.0/24 <-> 10.210.2.0/24. msg lines: sender, then the ISAKMP message as captured (non-ESP\n')
    f.write('# marker removed). The other lines are what charon logged at level 4 (keymat_v1.c, iv_manager.c), the same\n')
    f.write('# in both charons\' logs where both log it. esp_*_i keys the initiator->responder SA (its SPI is the\n')
    f.write('# responder\'s), esp_*_r the other direction.\n')
    f.write('psk = ' + b'v1witness-recorded-psk'.hex() + '\n')
    for k, (s, p) in enumerate(main):
        f.write(f'mm{k + 1} = {s} {p.hex()}\n')
    for k, (s, p) in enumerate(quick):
        f.write(f'qm{k + 1} = {s} {p.hex()}\n')
    for n, v in lines:
        f.write(f'{keys[n]} = {v}\n')
print('wrote', out)
PY
