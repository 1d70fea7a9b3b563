#!/usr/bin/env python3
"""ESP cross-check helper for ScapyCrossCheckTests: scapy's own IPsec code (scapy.layers.ipsec)
encrypts and decrypts tunnel-mode ESP for a known SA.

stdin:  {"jobs": [job, ...]}   stdout: {"scapy": version, "algos": [...], "results": [result, ...]}
job:    {"op": "info" | "encrypt" | "decrypt", "crypt_algo": "AES-GCM" | "AES-CBC" | "CHACHA20-POLY1305",
         "crypt_key": hex (key | salt for AEAD), "auth_algo": name or null, "auth_key": hex or null,
         "spi": int, "esn_en": bool, "esn": int (high 32 bits), "manual_esn_icv": bool,
         encrypt: "inner": {"v": 4|6, "src", "dst", "sport", "dport", "payload": hex} or "inner_raw": hex
                  (an IP packet scapy dissects), "seq": int,
                  "iv": hex or null, "transport": bool (no tunnel header: ESP next header = 17)
         decrypt: "esp": hex (SPI first), "transport": bool with "outer_src", "outer_dst" (the packet's own addresses)}
result: encrypt -> {"ok", "esp": hex, "inner": hex}; decrypt -> {"ok", "inner": hex, "integrity_error": bool}

manual_esn_icv: scapy 2.5's ESP sign/verify ignore esn_en (only its AEAD AAD and AH use the
high bits), so for AES-CBC + HMAC with ESN the script lets scapy do the CBC ESP with NULL auth and
computes the ICV itself with Python's hmac over ESP | seq-high (RFC 4303 section 3.3.2.1).
"""
import hashlib
import hmac
import json
import struct
import sys
import warnings

warnings.filterwarnings("ignore")

import scapy  # noqa: E402
from scapy.compat import raw  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.layers.ipsec import ESP, CRYPT_ALGOS, AUTH_ALGOS, SecurityAssociation, IPSecIntegrityError  # noqa: E402
from scapy.packet import Raw  # noqa: E402

HASHES = {"HMAC-SHA1-96": (hashlib.sha1, 12), "SHA2-256-128": (hashlib.sha256, 16), "SHA2-384-192": (hashlib.sha384, 24), "SHA2-512-256": (hashlib.sha512, 32)}

TUNNEL_SRC, TUNNEL_DST = "192.0.2.1", "198.51.100.7"


def unhex(s):
    return bytes.fromhex(s) if s else None


def make_sa(job, tunnel=True, null_auth=False):
    return SecurityAssociation(
        ESP, spi=job["spi"],
        crypt_algo=job["crypt_algo"], crypt_key=unhex(job["crypt_key"]),
        auth_algo=None if null_auth else job.get("auth_algo"),
        auth_key=None if null_auth else unhex(job.get("auth_key")),
        tunnel_header=IP(src=TUNNEL_SRC, dst=TUNNEL_DST) if tunnel else None,
        esn_en=bool(job.get("esn_en")), esn=int(job.get("esn", 0)))


def inner_packet(spec):
    payload = Raw(load=unhex(spec["payload"]) or b"")
    l4 = UDP(sport=spec["sport"], dport=spec["dport"]) / payload
    ip = IP(src=spec["src"], dst=spec["dst"]) if spec["v"] == 4 else IPv6(src=spec["src"], dst=spec["dst"])
    # Resolve lengths and checksums once, so the bytes returned are exactly what scapy encrypted.
    return ip.__class__(raw(ip / l4))


def manual_icv(job, data):
    digest, length = HASHES[job["auth_algo"]]
    mac = hmac.new(unhex(job["auth_key"]), data + struct.pack("!L", int(job.get("esn", 0))), digest).digest()
    return mac[:length]


def encrypt(job):
    if job.get("inner_raw"):
        data = unhex(job["inner_raw"])
        inner = IP(data) if data[0] >> 4 == 4 else IPv6(data)
    else:
        inner = inner_packet(job["inner"])
    manual = bool(job.get("manual_esn_icv"))
    sa = make_sa(job, tunnel=not job.get("transport"), null_auth=manual)
    iv = unhex(job.get("iv"))
    kwargs = {"seq_num": job["seq"]}
    if iv is not None:
        kwargs["iv"] = iv
    out = sa.encrypt(inner, **kwargs)
    esp = raw(out[ESP])
    if manual:
        esp += manual_icv(job, esp)
    return {"ok": True, "esp": esp.hex(), "inner": raw(inner).hex()}


def decrypt(job):
    esp = unhex(job["esp"])
    manual = bool(job.get("manual_esn_icv"))
    if manual:
        icv_len = HASHES[job["auth_algo"]][1]
        body, icv = esp[:-icv_len], esp[-icv_len:]
        if not hmac.compare_digest(manual_icv(job, body), icv):
            return {"ok": False, "integrity_error": True, "error": "manual ESN ICV mismatch"}
        esp = body
    transport = bool(job.get("transport"))
    sa = make_sa(job, tunnel=not transport, null_auth=manual)
    # Transport mode: the outer header is the packet's own (its addresses, protocol from ESP's next header).
    src, dst = (job["outer_src"], job["outer_dst"]) if transport else (TUNNEL_DST, TUNNEL_SRC)
    pkt = IP(raw(IP(src=src, dst=dst, proto=50) / Raw(load=esp)))
    if not pkt.haslayer(ESP):
        return {"ok": False, "error": "scapy did not dissect ESP"}
    try:
        inner = sa.decrypt(pkt)
    except IPSecIntegrityError as e:
        return {"ok": False, "integrity_error": True, "error": str(e)}
    return {"ok": True, "inner": raw(inner).hex(), "type": inner.__class__.__name__}


def main():
    request = json.load(sys.stdin)
    results = []
    for job in request.get("jobs", []):
        op = job.get("op")
        try:
            if op == "encrypt":
                results.append(encrypt(job))
            elif op == "decrypt":
                results.append(decrypt(job))
            else:
                results.append({"ok": True})
        except Exception as e:  # reported per job, the test decides
            results.append({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    json.dump({"scapy": scapy.VERSION, "algos": sorted(CRYPT_ALGOS), "auth": sorted(AUTH_ALGOS), "results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
