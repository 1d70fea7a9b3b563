#!/usr/bin/env python3
"""The AH peer of AhScapyRootTests, run inside the peer's network namespace: scapy's SecurityAssociation(AH, ...) protects
ICMP echo requests in tunnel mode, a raw IPPROTO_RAW socket sends them to the gateway's outer address, a raw protocol 51
socket reads the gateway's AH replies, and scapy verifies each and checks it is the echo reply of that request.

stdin: {"auth_algo", "key_out": hex (peer -> gateway), "key_in": hex (gateway -> peer), "spi_out": int (the gateway's
        inbound SPI), "spi_in": int, "outer_src", "outer_dst", "inner_src", "inner_dst", "count": int, "timeout": float}
stdout: {"ok", "replies": [seq, ...], "bad_replies": int, "after_replay": int, "after_forged": int, "after_recovery": int,
         "error": text}
Steps: echo requests 1..count (one reply each expected); request 1's packet sent again (a replay); request count+1 with
one ICV bit flipped (forged); then request count+1 intact (the window must not have moved for the forged one).
"""
import json
import select
import socket
import sys
import time
import warnings

warnings.filterwarnings("ignore")

from scapy.compat import raw  # noqa: E402
from scapy.layers.inet import IP, ICMP  # noqa: E402
from scapy.layers.ipsec import AH, SecurityAssociation, IPSecIntegrityError  # noqa: E402
from scapy.packet import Raw  # noqa: E402

ICMP_ID = 0x4155


def main():
    job = json.load(sys.stdin)
    out_sa = SecurityAssociation(AH, spi=job["spi_out"], auth_algo=job["auth_algo"], auth_key=bytes.fromhex(job["key_out"]),
                                 tunnel_header=IP(src=job["outer_src"], dst=job["outer_dst"]))
    in_sa = SecurityAssociation(AH, spi=job["spi_in"], auth_algo=job["auth_algo"], auth_key=bytes.fromhex(job["key_in"]),
                                tunnel_header=IP(src=job["outer_dst"], dst=job["outer_src"]))
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, 51)
    timeout = float(job.get("timeout", 3.0))
    result = {"ok": True, "replies": [], "bad_replies": 0}

    def protect(seq, payload=None):
        inner = IP(src=job["inner_src"], dst=job["inner_dst"]) / ICMP(type=8, id=ICMP_ID, seq=seq) / Raw(payload or bytes([seq % 256]) * 56)
        inner = IP(raw(inner))
        return raw(out_sa.encrypt(inner, seq_num=seq))

    def send(packet):
        tx.sendto(packet, (job["outer_dst"], 0))

    def replies(wait):
        """Echo replies verified by scapy within `wait` seconds (bounded)."""
        got = []
        end = time.monotonic() + wait
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return got
            ready, _, _ = select.select([rx], [], [], left)
            if not ready:
                return got
            data = rx.recv(65535)
            pkt = IP(data)
            if AH not in pkt or pkt[AH].spi != job["spi_in"]:
                continue
            try:
                inner = IP(raw(in_sa.decrypt(pkt)))  # scapy leaves the payload of AH next header 4 undissected
            except IPSecIntegrityError as e:
                result["bad_replies"] += 1
                result.setdefault("first_bad", "integrity: %s: %s" % (e, data.hex()))
                continue
            if ICMP in inner and inner[ICMP].type == 0 and inner[ICMP].id == ICMP_ID and inner[IP].src == job["inner_dst"]:
                got.append(inner[ICMP].seq)
            else:
                result["bad_replies"] += 1
                result.setdefault("first_bad", "not the echo reply: " + data.hex())

    count = int(job["count"])
    first = None
    for seq in range(1, count + 1):
        packet = protect(seq)
        if first is None:
            first = packet
        send(packet)
        result["replies"] += replies_until(replies, seq, timeout)
    send(first)
    result["after_replay"] = len(replies(1.0))
    forged = bytearray(protect(count + 1))
    ihl = (forged[0] & 0x0F) * 4
    forged[ihl + 12] ^= 0x01
    send(bytes(forged))
    result["after_forged"] = len(replies(1.0))
    send(protect(count + 1))
    result["after_recovery"] = len(replies_until(replies, count + 1, timeout))
    json.dump(result, sys.stdout)


def replies_until(replies, seq, timeout):
    """Replies until the one for `seq` arrives or `timeout` passes."""
    got = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got += replies(min(0.5, max(0.0, end - time.monotonic())))
        if seq in got:
            break
    return got


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the test reports it
        json.dump({"ok": False, "error": "%s: %s" % (type(e).__name__, e)}, sys.stdout)
