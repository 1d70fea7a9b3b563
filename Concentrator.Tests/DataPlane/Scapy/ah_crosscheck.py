#!/usr/bin/env python3
"""AH cross-check helper for AhScapyCrossCheckTests: scapy's own AH code (scapy.layers.ipsec, RFC 4302) protects and
verifies whole IP packets for a known SA.

stdin:  {"jobs": [job, ...]}   stdout: {"scapy": version, "results": [result, ...]}
job:    {"op": "protect" | "verify", "auth_algo": "SHA2-256-128" | "SHA2-384-192" | "SHA2-512-256",
         "auth_key": hex, "spi": int, "esn_en": bool, "esn": int (high 32 bits), "tunnel": 4 | 6 | null (transport),
         "outer_src", "outer_dst": the tunnel header's addresses,
         protect: "inner": hex (an IP packet; transport mode: its header stays, AH goes behind it), "seq": int
         verify:  "packet": hex (the whole outer IP packet)}
result: protect -> {"ok", "packet": hex}; verify -> {"ok", "inner": hex, "integrity_error": bool}
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")

import scapy  # noqa: E402
from scapy.compat import raw  # noqa: E402
from scapy.layers.inet import IP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.layers.ipsec import AH, SecurityAssociation, IPSecIntegrityError  # noqa: E402


def make_sa(job):
    tunnel = job.get("tunnel")
    header = None
    if tunnel == 4:
        header = IP(src=job["outer_src"], dst=job["outer_dst"])
    elif tunnel == 6:
        header = IPv6(src=job["outer_src"], dst=job["outer_dst"])
    return SecurityAssociation(AH, spi=job["spi"], auth_algo=job["auth_algo"], auth_key=bytes.fromhex(job["auth_key"]),
                               tunnel_header=header, esn_en=bool(job.get("esn_en")), esn=int(job.get("esn", 0)))


def parse_ip(data):
    return IP(data) if data[0] >> 4 == 4 else IPv6(data)


def run(job):
    sa = make_sa(job)
    if job["op"] == "protect":
        inner = parse_ip(bytes.fromhex(job["inner"]))
        out = sa.encrypt(inner, seq_num=job["seq"])
        return {"ok": True, "packet": raw(out).hex()}
    if job["op"] == "verify":
        pkt = parse_ip(bytes.fromhex(job["packet"]))
        try:
            inner = sa.decrypt(pkt)
        except IPSecIntegrityError as e:
            return {"ok": False, "integrity_error": True, "error": str(e)}
        return {"ok": True, "inner": raw(inner).hex()}
    return {"ok": False, "error": "unknown op " + job["op"]}


def main():
    request = json.load(sys.stdin)
    results = []
    for job in request["jobs"]:
        try:
            results.append(run(job))
        except Exception as e:  # reported per job, so one bad job does not hide the rest
            results.append({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    json.dump({"scapy": scapy.VERSION, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
