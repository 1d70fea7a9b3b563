#!/usr/bin/python3
"""Malformed-input storm against a concentrator (run in the peer namespace of the interop testbed).

argv: gateway_address per_kind seed [device [esp]]
Sends per_kind datagrams of each hostile kind (14 without the ESP ones) to UDP 500 / 4500 of gateway_address, bounded in count and
paced in bursts so the kernel's socket buffers see a storm, not a loss test. With a device, first sniffs
one outgoing ESP-in-UDP packet (the test pings through the tunnel meanwhile) and replays it per_kind times
verbatim, and as many times with a fresh sequence number (ICV no longer matches: the authentication path).
With "esp", only the ESP kinds are sent. Prints one line per kind: kind=count. Only the stdlib: no scapy needed for raw bytes.
"""
import os, random, socket, struct, sys, time

gw, per_kind, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
device = sys.argv[4] if len(sys.argv) > 4 else None
esp_only = len(sys.argv) > 5 and sys.argv[5] == "esp"
rnd = random.Random(seed)

def rbytes(n):
    return rnd.getrandbits(8 * n).to_bytes(n, "big") if n else b""

def header(spi_i, spi_r, next_payload, exchange, flags, msg_id, length):
    return struct.pack("!QQBBBBII", spi_i, spi_r, next_payload, 0x20, exchange, flags, msg_id, length)

def message(spi_i, spi_r, exchange, payloads, flags=0x08, msg_id=0):
    """payloads: list of (type, body); chain linked, header length right."""
    body = b""
    for i, (ptype, pbody) in enumerate(payloads):
        nxt = payloads[i + 1][0] if i + 1 < len(payloads) else 0
        body += struct.pack("!BBH", nxt, 0, 4 + len(pbody)) + pbody
    first = payloads[0][0] if payloads else 0
    return header(spi_i, spi_r, first, exchange, flags, msg_id, 28 + len(body)) + body

def transform(ttype, tid, attrs=b"", last=False):
    return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs

def sa_payload():
    ts = transform(1, 20, struct.pack("!HH", 0x800E, 256)) + transform(2, 5) + transform(4, 19, last=True)
    prop = struct.pack("!BBHBBBB", 0, 0, 8 + len(ts), 1, 1, 0, 3) + ts
    return prop

def init_with_bad_ke():
    spi = rnd.getrandbits(64) | 1
    kind = rnd.randrange(3)
    ke = b"\x00" * 64 if kind == 0 else (b"\xff" * 64 if kind == 1 else rbytes(64))  # not on P-256 (RFC 6989)
    return message(spi, 0, 34, [(33, sa_payload()), (34, struct.pack("!HH", 19, 0) + ke), (40, rbytes(32))])

out = {}
s500 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4500 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s500.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
s4500.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)

def blast(name, sock, port, make):
    sent = 0
    for i in range(per_kind):
        try:
            sock.sendto(make(), (gw, port))
            sent += 1
        except OSError:
            time.sleep(0.001)
        if i % 200 == 199:
            time.sleep(0.004)  # bursts of 200: a storm the receive buffers can hold
    out[name] = sent

replayed = None
if device:
    # One outgoing ESP-in-UDP packet to the gateway (non-zero SPI after the UDP header), whole frame.
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sniff.bind((device, 0))
    sniff.settimeout(0.5)
    deadline = time.time() + 8
    gw_bytes = socket.inet_aton(gw)
    while time.time() < deadline and replayed is None:
        try:
            frame, addr = sniff.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] != socket.PACKET_OUTGOING or len(frame) < 14 + 20 + 8 + 8 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17 or ip[16:20] != gw_bytes:
            continue
        udp = ip[ihl:]
        if struct.unpack("!H", udp[2:4])[0] == 4500 and len(udp) > 16 and udp[8:12] != b"\x00\x00\x00\x00":
            # An outgoing frame seen before checksum offload carries a partial UDP checksum; 0 means none (IPv4).
            f = bytearray(frame)
            f[14 + ihl + 6:14 + ihl + 8] = b"\x00\x00"
            replayed = bytes(f)
    if replayed is None:
        print("replay=0 (no ESP packet seen)")
    else:
        sent = 0
        for i in range(per_kind):
            sniff.send(replayed)
            sent += 1
            if i % 200 == 199:
                time.sleep(0.004)
        out["esp_replay"] = sent
        ihl = (replayed[14] & 0x0F) * 4
        seq_at = 14 + ihl + 8 + 4
        sent = 0
        for i in range(per_kind):
            f = bytearray(replayed)
            struct.pack_into("!I", f, seq_at, 0x10000000 + rnd.getrandbits(24))  # ahead of the window, ICV now wrong
            sniff.send(bytes(f))
            sent += 1
            if i % 200 == 199:
                time.sleep(0.004)
        out["esp_bad_icv"] = sent
    sniff.close()

if esp_only:
    blast("runt_4500", s4500, 4500, lambda: rbytes(rnd.randrange(2, 8)))
    blast("unknown_esp_spi", s4500, 4500, lambda: struct.pack("!II", rnd.getrandbits(32) | 0x100, rnd.getrandbits(32)) + rbytes(rnd.randrange(8, 1400)))
    print(" ".join(f"{k}={v}" for k, v in out.items()))
    sys.exit(0)

blast("random_500", s500, 500, lambda: rbytes(rnd.randrange(0, 1500)))
blast("truncated_header", s500, 500, lambda: header(rnd.getrandbits(64), 0, 33, 34, 0x08, 0, 28)[: rnd.randrange(1, 28)])
blast("lying_header_length", s500, 500,
      lambda: header(rnd.getrandbits(64), 0, 33, 34, 0x08, 0, rnd.choice([0, 27, 29, 65535, 0xFFFFFFFF])) + rbytes(rnd.randrange(0, 200)))
def lying_payload_length():
    m = bytearray(init_with_bad_ke())
    struct.pack_into("!H", m, 28 + 2, rnd.choice([0, 3, 5, 4000, 65535]))  # first payload's length lies
    return bytes(m)
blast("lying_payload_length", s500, 500, lying_payload_length)
blast("payload_chain_flood", s500, 500,
      lambda: message(rnd.getrandbits(64) | 1, 0, 34, [(43, rbytes(4))] * rnd.randrange(65, 300)))
blast("invalid_dh", s500, 500, init_with_bad_ke)
# IKE_SA_INIT shapes no responder can answer: an error notify alone (NO_PROPOSAL_CHOSEN), and SA and Ni without KE.
blast("init_error_only", s500, 500, lambda: message(rnd.getrandbits(64) | 1, 0, 34, [(41, struct.pack("!BBH", 0, 0, 14))]))
blast("init_without_ke", s500, 500, lambda: message(rnd.getrandbits(64) | 1, 0, 34, [(33, sa_payload()), (40, rbytes(32))]))
blast("sk_unknown_spi_500", s500, 500,
      lambda: message(rnd.getrandbits(64) | 1, rnd.getrandbits(64) | 1, 35, [(46, rbytes(rnd.randrange(32, 400)))], msg_id=1))
blast("sk_unknown_spi_4500", s4500, 4500,
      lambda: b"\x00" * 4 + message(rnd.getrandbits(64) | 1, rnd.getrandbits(64) | 1, 35, [(46, rbytes(rnd.randrange(32, 400)))], msg_id=1))
blast("runt_4500", s4500, 4500, lambda: rbytes(rnd.randrange(2, 8)) if rnd.random() < 0.9 else b"\x00")
blast("marker_garbage_4500", s4500, 4500, lambda: b"\x00" * 4 + rbytes(rnd.randrange(0, 600)))
blast("unknown_esp_spi", s4500, 4500, lambda: struct.pack("!II", rnd.getrandbits(32) | 0x100, rnd.getrandbits(32)) + rbytes(rnd.randrange(8, 1400)))
print(" ".join(f"{k}={v}" for k, v in out.items()))
