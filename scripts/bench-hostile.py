#!/usr/bin/env python3
"""Peak memory of the whole sensor on the hostile captures of the adversarial suite.

For each capture (made by the testkit's make-hostile-capture into bench-out/hostile/), runs
`apisonar analyze --db` and `apisonar run -r --workers 2 --db` into fresh stores, and prints
exit code, elapsed time, peak RSS (the child's ru_maxrss) and whether it stayed under the
target (256 MB by default, the issue's target with the default configuration). Uses release
builds: `cargo build --release -p apisonar -p apisonar-testkit` first (or --build).

    scripts/bench-hostile.py [--build] [--target-mb 256] [--only NAME...] [--config FILE]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "bench-out", "hostile")


def run(cmd):
    """Runs cmd; returns (exit code, seconds, peak RSS in MB, stdout)."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.time() - t0, usage.ru_maxrss / 1024, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="store_true", help="cargo build --release first")
    ap.add_argument("--target-mb", type=float, default=256.0)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--config", default=None, help="a --config FILE for both commands")
    args = ap.parse_args()
    if args.build:
        subprocess.run(["cargo", "build", "--release", "-p", "apisonar", "-p", "apisonar-testkit"], cwd=ROOT, check=True)
    apisonar = os.path.join(ROOT, "target", "release", "apisonar")
    maker = os.path.join(ROOT, "target", "release", "make-hostile-capture")
    for tool in (apisonar, maker):
        if not os.path.exists(tool):
            sys.exit(f"{tool} missing: run with --build")
    listing = subprocess.run([maker, "--list"], capture_output=True, text=True, check=True).stdout
    names = [line.split("\t")[0] for line in listing.splitlines() if line]
    if args.only:
        names = [n for n in names if n in args.only]
    os.makedirs(OUT, exist_ok=True)
    config = ["--config", args.config] if args.config else []
    rows = []
    print(f"{'capture':<22} {'MB':>6} {'command':<26} {'exit':>4} {'secs':>7} {'peak RSS MB':>11}  verdict")
    for name in names:
        pcap = os.path.join(OUT, f"{name}.pcap")
        if not os.path.exists(pcap):
            subprocess.run([maker, name, pcap], check=True)
        size = os.path.getsize(pcap) / 1e6
        for label, cmd in [
            ("analyze --db", [apisonar, "analyze", "--summary", "json", *config, "--db"]),
            ("run -r --workers 2 --db", [apisonar, "run", "--summary", "json", "--status-interval", "0", "--workers", "2", *config, "--db"]),
        ]:
            db = os.path.join(OUT, f"{name}.db")
            shutil.rmtree(db, ignore_errors=True)
            full = cmd + [db] + (["-r", pcap] if label.startswith("run") else [pcap])
            code, secs, rss, out = run(full)
            try:
                summary = json.loads(out)
            except ValueError:
                summary = {}
            verdict = "ok" if code == 0 and rss < args.target_mb else "OVER" if code == 0 else "FAILED"
            rows.append({"capture": name, "command": label, "exit": code, "secs": round(secs, 2), "peak_rss_mb": round(rss, 1),
                         "endpoints": summary.get("endpoints"), "overflow": summary.get("overflow", {}),
                         "transactions": summary.get("transactions")})
            print(f"{name:<22} {size:>6.1f} {label:<26} {code:>4} {secs:>7.2f} {rss:>11.1f}  {verdict}", flush=True)
            shutil.rmtree(db, ignore_errors=True)
    print(json.dumps(rows))
    if any(r["exit"] != 0 or r["peak_rss_mb"] >= args.target_mb for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
