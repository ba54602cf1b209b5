#!/usr/bin/python3
"""Soak benchmark: `augur serve` under steady load for a given time, with real
processes (sandboxed Python tasks) talking to two real Redis servers through
the gateways, and probes every 50 ms. Prints, as JSON, the server's resident
memory, open descriptors and threads and the invocations answered: after a
warm-up (start), once a minute, and at the end.

Usage: soak.py AUGUR [--seconds N] [--warmup N] [--clients N]"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CONFIG = """
[cluster]
threshold = 0.5
probe_interval_ms = 50
queue_capacity = 1000

[api]
listen = "127.0.0.1:0"

[[tenant]]
name = "soak"
token = "soak-token"
tasks = ["counter", "store"]

[[host]]
name = "a"
zone = "a"
instances = 2
slots = 2

[[host]]
name = "b"
zone = "b"
instances = 2
slots = 2

[[host]]
name = "c"
zone = "c"
instances = 2
slots = 2

[[service]]
name = "cache"
kind = "redis"
endpoint = "127.0.0.1:{cache}"
zone = "a"

[[service]]
name = "db"
kind = "redis"
endpoint = "127.0.0.1:{db}"
zone = "b"

[[task]]
name = "counter"
command = ["/usr/bin/python3", "-c", '''
import os, socket
host, port = os.environ['AUGUR_SERVICE_CACHE'].split(':')
s = socket.create_connection((host, int(port)))
s.sendall(b'INCR hits\\r\\n')
print(s.recv(100).decode().strip(), end='')
''']

[[task]]
name = "store"
command = ["/usr/bin/python3", "-c", '''
import os, socket, sys
host, port = os.environ['AUGUR_SERVICE_DB'].split(':')
s = socket.create_connection((host, int(port)))
v = sys.stdin.read() or 'x'
s.sendall(('SET k%d %s\\r\\n' % (len(v), v)).encode())
print(s.recv(100).decode().strip(), end='')
''']
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis(port):
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--logfile", "/dev/null"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16) == b"+PONG\r\n":
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("soak: redis-server did not start")


def sample(pid, answered, started):
    status = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    return {
        "elapsed_s": round(time.monotonic() - started, 1),
        "rss_kib": int(status["VmRSS"].split()[0]),
        "fds": len(os.listdir("/proc/%d/fd" % pid)),
        "threads": int(status["Threads"]),
        "invocations": answered,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("augur")
    ap.add_argument("--seconds", type=float, default=600,
                    help="measured time after the warm-up (default 600)")
    ap.add_argument("--warmup", type=float, default=30,
                    help="load before the first sample (default 30)")
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="augur-soak-")
    cache, db = free_port(), free_port()
    servers = [redis(cache), redis(db)]
    path = os.path.join(workdir, "soak.toml")
    with open(path, "w") as f:
        f.write(CONFIG.format(cache=cache, db=db))
    serve = subprocess.Popen([args.augur, "serve", "--config", path],
                             stdout=subprocess.PIPE, text=True)
    line = serve.stdout.readline()
    if "http://127.0.0.1:" not in line:
        sys.exit("soak: augur serve did not start: " + line)
    port = int(line.split("http://127.0.0.1:")[1].split(" ")[0])

    lock = threading.Lock()
    counts = {"ok": 0, "failed": 0}
    stop = threading.Event()

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        i = 0
        while not stop.is_set():
            task = "counter" if i % 2 == 0 else "store"
            body = "v" * (1 + (i * 37 + k) % 200)
            i += 1
            try:
                conn.request("POST", "/v1/tasks/%s/invoke" % task, body=body,
                             headers={"Authorization": "Bearer soak-token"})
                res = conn.getresponse()
                res.read()
                ok = res.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port,
                                                  timeout=120)
                ok = False
            with lock:
                counts["ok" if ok else "failed"] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,))
               for k in range(args.clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    samples = []
    try:
        time.sleep(args.warmup)
        t0 = time.monotonic()
        samples.append(sample(serve.pid, counts["ok"], started))
        while time.monotonic() - t0 < args.seconds:
            time.sleep(min(60, args.seconds - (time.monotonic() - t0)))
            samples.append(sample(serve.pid, counts["ok"], started))
    finally:
        stop.set()
        for t in threads:
            t.join()
        serve.send_signal(signal.SIGTERM)
        code = serve.wait()
        for s in servers:
            s.kill()
            s.wait()
    first, last = samples[0], samples[-1]
    print(json.dumps({
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "clients": args.clients,
        "answered": counts["ok"],
        "failed": counts["failed"],
        "exit_status": code,
        "start": first,
        "end": last,
        "rss_growth_kib": last["rss_kib"] - first["rss_kib"],
        "samples": samples,
    }, indent=2))
    return 0 if counts["failed"] == 0 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
