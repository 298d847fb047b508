#!/usr/bin/env python3
"""Login flood against a local dashboard: shows that memory stays bounded and /healthz keeps
answering while many clients try passwords at once.

Starts `apisonar serve` on a fresh store on loopback (or uses --url and --pid of a running one),
then for --seconds opens --clients connections, each from its own loopback address (127.0.1.x:
a distributed flood, so the per-address limits do not stop it alone), that post wrong passwords as
fast as they can, while a probe from 127.0.0.1 fetches /healthz every 200 ms. Prints one line per
second (RSS of the server, logins answered by status, health probes and their latency) and a JSON
summary last. Loopback only; stops by itself.

    scripts/login-flood.py [--bin target/release/apisonar] [--seconds 20] [--clients 64]
"""
import argparse
import collections
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def connection(host, port, source, timeout):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout, source_address=(source, 0))


def start_server(binary):
    store = tempfile.mkdtemp(prefix="apisonar-flood-")
    proc = subprocess.Popen(
        [binary, "serve", "--db", store, "--listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stderr.readline()
        if "dashboard: https://" in line:
            addr = line.split("https://", 1)[1].split("/", 1)[0]
            host, port = addr.rsplit(":", 1)
            threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
            return proc, store, host, int(port)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    sys.exit("the dashboard did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "apisonar"))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=64)
    args = ap.parse_args()
    args.seconds = min(args.seconds, 600.0)  # stops by itself, whatever it is told
    proc, store, host, port = start_server(args.bin)
    stop = time.time() + args.seconds
    statuses = collections.Counter()
    errors = collections.Counter()
    health = []  # (time, status or None, latency s)
    lock = threading.Lock()

    def flood(source):
        conn = None
        while time.time() < stop:
            try:
                if conn is None:
                    conn = connection(host, port, source, 5)
                conn.request(
                    "POST",
                    "/login",
                    body="user=admin&password=wrong-guess",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                r = conn.getresponse()
                r.read()
                with lock:
                    statuses[r.status] += 1
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # refused, reset, timed out: counted, then a new connection
                with lock:
                    errors[type(e).__name__] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)

    def probe():
        # curl in its own process, so the flood threads' share of this interpreter does not
        # count as the server's latency; a fresh connection each time, as a prober makes.
        while time.time() < stop:
            t0 = time.time()
            status, took = None, 2.0
            try:
                out = subprocess.run(
                    ["curl", "-sk", "-o", "/dev/null", "--max-time", "2", "--interface", "127.0.0.1",
                     "-w", "%{http_code} %{time_total}", f"https://{host}:{port}/healthz"],
                    capture_output=True, text=True, timeout=5,
                ).stdout.split()
                if len(out) == 2 and out[0] != "000":
                    status, took = int(out[0]), float(out[1])
            except Exception:
                pass
            with lock:
                health.append((t0, status, took))
            time.sleep(max(0.0, 0.2 - (time.time() - t0)))

    sources = [f"127.0.{1 + n // 250}.{2 + n % 250}" for n in range(args.clients)]
    threads = [threading.Thread(target=flood, args=(src,), daemon=True) for src in sources]
    threads.append(threading.Thread(target=probe, daemon=True))
    rss_before = rss_mib(proc.pid)
    for t in threads:
        t.start()
    peak = rss_before
    start = time.time()
    print(f"flooding https://{host}:{port}/login with {args.clients} clients for {args.seconds:.0f} s (RSS at start {rss_before:.1f} MiB)")
    while time.time() < stop:
        time.sleep(1)
        rss = rss_mib(proc.pid)
        peak = max(peak, rss)
        with lock:
            recent = [h for h in health if h[0] >= time.time() - 1.5]
            ok = sum(1 for h in recent if h[1] == 200)
            worst = max((h[2] for h in recent), default=0.0)
            print(
                f"t={time.time() - start:5.1f}s rss={rss:6.1f} MiB logins={dict(sorted(statuses.items()))} "
                f"errors={sum(errors.values())} healthz ok {ok}/{len(recent)} worst {worst * 1000:.0f} ms",
                flush=True,
            )
    for t in threads:
        t.join(timeout=10)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(store, ignore_errors=True)
    latencies = sorted(h[2] for h in health if h[1] == 200)
    summary = {
        "seconds": args.seconds,
        "clients": args.clients,
        "logins_by_status": {str(k): v for k, v in sorted(statuses.items())},
        "login_errors": dict(errors),
        "rss_start_mib": round(rss_before, 1),
        "rss_peak_mib": round(peak, 1),
        "healthz_probes": len(health),
        "healthz_ok": sum(1 for h in health if h[1] == 200),
        "healthz_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "healthz_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
