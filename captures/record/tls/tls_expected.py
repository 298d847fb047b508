#!/usr/bin/env python3
"""tls_expected.py OUT.tsv PCAP...: tls/expected.tsv, one row per TLS
connection, from tshark's dissection of the captures (SNI, ALPN, versions,
cipher, alerts, JA3/JA3S) and the certificate details recorded by the
scripts (tls/.NAME.certinfo, from openssl x509 on the served certificate).
The weak_tls findings are derived by the rules documented in the header."""
import collections
import datetime
import os
import re
import subprocess
import sys

VER = {"0x0300": "SSL3.0", "0x0301": "TLS1.0", "0x0302": "TLS1.1", "0x0303": "TLS1.2", "0x0304": "TLS1.3"}
ALERT = {"0": "close_notify", "40": "handshake_failure", "70": "protocol_version", "71": "insufficient_security",
         "80": "internal_error"}


def cipher_names():
    out = subprocess.run(["openssl", "ciphers", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"], capture_output=True, text=True).stdout
    m = {}
    for line in out.splitlines():
        mm = re.match(r"\s*0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)", line)
        if mm:
            m["0x" + (mm.group(1) + mm.group(2)).lower()] = mm.group(3)
    return m


CIPH = cipher_names()
FIELDS = ["frame.time_epoch", "tcp.stream", "tcp.srcport", "tcp.dstport", "tls.handshake.type", "tls.handshake.version",
          "tls.handshake.extensions.supported_version", "tls.handshake.ciphersuite",
          "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str", "tls.alert_message.desc",
          "tls.handshake.ja3", "tls.handshake.ja3s", "tls.record.content_type"]


def rows_for(pcap):
    name = os.path.basename(pcap)[:-5]
    certinfo = {}
    ci = os.path.join(os.path.dirname(pcap), ".%s.certinfo" % name)
    for line in open(ci):
        f = line.rstrip("\n").split("\t")
        certinfo[int(f[0])] = f[1:]
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "tls", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
                          "-E", "aggregator=;"] + sum([["-e", f] for f in FIELDS], []),
                         check=True, capture_output=True, text=True).stdout
    conns = collections.OrderedDict()
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        s = v["tcp.stream"]
        port = min(int(v["tcp.srcport"]), int(v["tcp.dstport"]))
        c = conns.setdefault(s, {"port": port, "types": set(), "alerts": [], "t": float(v["frame.time_epoch"])})
        from_client = int(v["tcp.dstport"]) == port
        types = [t for t in v["tls.handshake.type"].split(";") if t]
        c["types"].update(types)
        if "1" in types:
            c["sni"] = v["tls.handshake.extensions_server_name"]
            c["alpn_offered"] = v["tls.handshake.extensions_alpn_str"].replace(";", ",") or "-"
            sv = [x for x in v["tls.handshake.extensions.supported_version"].split(";") if x in VER]
            c["offered"] = ",".join(VER[x] for x in sv) if sv else VER[v["tls.handshake.version"].split(";")[0]] + " (legacy client_version, no supported_versions)"
            c["offered_set"] = set(VER[x] for x in sv) if sv else {VER[v["tls.handshake.version"].split(";")[0]]}
            c["ja3"] = v["tls.handshake.ja3"]
        if "2" in types:
            sv = [x for x in v["tls.handshake.extensions.supported_version"].split(";") if x in VER]
            c["negotiated"] = VER[sv[0]] if sv else VER[v["tls.handshake.version"].split(";")[0]]
            c["cipher"] = CIPH.get(v["tls.handshake.ciphersuite"].split(";")[0], v["tls.handshake.ciphersuite"])
            c["alpn_chosen"] = v["tls.handshake.extensions_alpn_str"] or "-"
            c["ja3s"] = v["tls.handshake.ja3s"]
        for a in v["tls.alert_message.desc"].split(";"):
            if a:
                c["alerts"].append("%s %s" % ("client" if from_client else "server", ALERT.get(a, a)))
    for c in conns.values():
        port = c["port"]
        subj, iss, nb, na, key, self_signed = certinfo[port]
        refused = "negotiated" not in c
        if refused:
            subj = iss = nb = na = key = self_signed = "-"
            cert_seen = "no certificate (refused)"
        elif "11" in c["types"]:
            cert_seen = "cleartext"
        else:
            cert_seen = "encrypted (TLS1.3)"
        f = []
        for v in ("SSL3.0", "TLS1.0", "TLS1.1"):
            tag = v.lower().replace("ssl3.0", "sslv3")
            if c.get("negotiated") == v:
                f.append(tag + "_negotiated")
            elif v in c.get("offered_set", ()):
                f.append(tag + "_offered")
        ciph = c.get("cipher", "")
        for weak, tag in (("NULL", "null_cipher"), ("EXP", "export_cipher"), ("RC4", "rc4_cipher"), ("DES-CBC3", "3des_cipher")):
            if weak in ciph:
                f.append(tag)
        if not refused:
            when = lambda d: datetime.datetime.strptime(d, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=datetime.timezone.utc).timestamp()  # noqa: E731
            if when(na) < c["t"]:
                f.append("cert_expired")
            if when(nb) > c["t"]:
                f.append("cert_not_yet_valid")
            m = re.match(r"rsaEncryption (\d+) bit", key)
            if m and int(m.group(1)) < 2048:
                f.append("rsa_key_lt_2048")
            if self_signed == "yes":
                f.append("self_signed")
        yield [os.path.basename(pcap), str(port), c.get("sni", "-"), c.get("alpn_offered", "-"), c.get("alpn_chosen", "-"),
               c.get("offered", "-"), c.get("negotiated", "refused"), ciph or "-", subj, iss, nb, na, key, self_signed,
               cert_seen, ",".join(c["alerts"]) or "-", c.get("ja3", "-"), c.get("ja3s", "-") or "-", ",".join(f) or "none"]


HEADER = """# TLS connections in captures/tls/*.pcap, one row per connection (one TCP connection per server port).
# Made by record/tls/tls_expected.py from tshark 4.0 (`-T fields`: SNI, ALPN, supported_versions,
# ciphersuite, alerts, tls.handshake.ja3 / ja3s) and from `openssl x509` on the certificate each
# server was given (the scripts write tls/.NAME.certinfo). Certificates are regenerated on every
# recording (new keys), but subjects, issuers and validity dates are fixed.
# versions_offered: the supported_versions extension if present, else the legacy ClientHello version.
# Note: OpenSSL 3.0's s_client at default settings lists TLS1.1 and TLS1.0 in supported_versions
# even though it would refuse them; such rows get tls1.x_offered findings.
# weak_tls findings (expected from a sensor): sslv3|tls1.0|tls1.1 _offered or _negotiated;
# null_cipher/export_cipher/rc4_cipher/3des_cipher (negotiated); cert_expired / cert_not_yet_valid
# (relative to the time of the connection's first TLS packet; recorded in 2026); rsa_key_lt_2048; self_signed (leaf subject == issuer).
# TLS1.3 certificates are encrypted: cert columns there describe what the server sent, but a
# passive sensor cannot see them (cert_in_capture says so) and no cert finding is expected.
# file\tport\tsni\talpn_offered\talpn_chosen\tversions_offered\tnegotiated\tcipher\tcert_subject\tcert_issuer\tnot_before\tnot_after\tkey\tself_signed\tcert_in_capture\talerts\tja3\tja3s\tweak_tls_findings
"""

with open(sys.argv[1], "w") as out:
    out.write(HEADER.replace("\\t", "\t"))
    for p in sys.argv[2:]:
        for r in rows_for(p):
            if r[14] == "encrypted (TLS1.3)":
                if r[4] == "-":
                    r[4] = "encrypted (EncryptedExtensions)"
                r[18] = ",".join(x for x in r[18].split(",") if not x.startswith(("cert_", "rsa_", "self_"))) or "none"
            out.write("\t".join(r) + "\n")
