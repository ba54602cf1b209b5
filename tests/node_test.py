#!/usr/bin/python3
"""Three `augur node` processes on loopback: invocations through the control
node's HTTP API while a worker is killed with SIGKILL; every invocation gets
a result or a clear error, placements then avoid the lost host, the worker
joins again when it comes back, and a stranger gets nothing from the
cluster port; all over mutual TLS (a worker killed under load must not
take the others' connections with it). Then the commands in the header of
configs/cluster/three-nodes.toml, exactly as written there: certificates
from `augur certs`, three nodes over mutual TLS, a worker killed and
restarted joins again and serves, a stranger gets nothing. Usage: node_test.py AUGUR SOURCE_DIR"""

import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, failures, free_port, redis_command, wait_for  # noqa: E402,E501

AUGUR = sys.argv[1]
SOURCE = sys.argv[2]


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body)
    res = conn.getresponse()
    data = res.read().decode()
    conn.close()
    return res.status, data


def code_archive(version):
    """A .tar.gz of a Python function that says its version and its input."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        data = ("import sys\nprint('%s ' + sys.stdin.read())\n"
                % version).encode()
        info = tarfile.TarInfo("greet.py")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def deploy_code(api, version):
    status, body = request(api, "PUT", "/v1/tasks/greet/code",
                           code_archive(version))
    check(status == 200, "code %s deployed: %s" % (version, body))
    return json.loads(body).get("version") if status == 200 else None


def invoke_greet(api, data):
    status, body = request(api, "POST", "/v1/tasks/greet/invoke", data)
    r = json.loads(body)
    return status, r.get("output", r.get("error", "")).strip(), r.get("host")


def health(api):
    status, body = request(api, "GET", "/healthz")
    return json.loads(body) if status == 200 else {}


CONFIG = """
[cluster]
secret = "s3cret"
heartbeat_ms = 100
node_timeout_ms = 1000
probe_interval_ms = 50
cold_start_ms = 0

[api]
listen = "127.0.0.1:{api}"

[tls]
ca = "certs/ca.pem"

[[node]]
name = "control"
role = "control"
address = "127.0.0.1"
port = {cluster}
cert = "certs/control.pem"
key = "certs/control.key"

[[node]]
name = "w1"
cert = "certs/w1.pem"
key = "certs/w1.key"

[[node]]
name = "w2"
cert = "certs/w2.pem"
key = "certs/w2.key"

[[host]]
name = "h1"
node = "w1"
instances = 2
slots = 2

[[host]]
name = "h2"
node = "w2"
zone = "b"
instances = 2
slots = 2

[[service]]
name = "db"
kind = "redis"
endpoint = "127.0.0.1:{redis}"

[[task]]
name = "shout"
command = ["tr", "a-z", "A-Z"]

# Runs until the test pushes to the list "gate" in Redis: no timing.
[[task]]
name = "slow"
command = ["/usr/bin/python3", "-c", {gate}, "done"]

# User code must not read a node's key.
[[task]]
name = "peek-key"
command = ["cat", "{work}/certs/w1.key", "{work}/certs/ca.key"]

[[task]]
name = "slow-idempotent"
command = ["/usr/bin/python3", "-c", {gate}, "again"]
idempotent = true
"""


GATE = """'''
import os, socket, sys
host, port = os.environ['AUGUR_SERVICE_DB'].split(':')
s = socket.create_connection((host, int(port)))
s.sendall(b'BLPOP gate 0\\r\\n')
s.recv(100)
print(sys.argv[1])
'''"""

TRACES = {}



def start_redis():
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--logfile", "/dev/null"])

    def up():
        try:
            return redis_command(port, "PING") == b"+PONG\r\n"
        except OSError:
            return False
    check(wait_for(up), "redis starts")
    return proc, port


def start(config, name):
    trace = os.path.join(os.path.dirname(config), name + ".trace")
    TRACES[name] = trace
    return subprocess.Popen([AUGUR, "node", "--config", config,
                             "--name", name, "--trace", trace],
                            stdout=subprocess.DEVNULL)


def main():
    work = tempfile.mkdtemp()
    redis, redis_port = start_redis()
    api, cluster = free_port(), free_port()
    config = os.path.join(work, "cluster.toml")
    with open(config, "w") as f:
        f.write(CONFIG.format(api=api, cluster=cluster, work=work,
                              redis=redis_port, gate=GATE))
    made = subprocess.run([AUGUR, "certs", "--dir",
                           os.path.join(work, "certs"), "control", "w1", "w2"],
                          capture_output=True, text=True)
    check(made.returncode == 0, "certs made: %s" % made.stderr)

    procs = {"control": start(config, "control")}
    killed = set()
    try:
        check(wait_for(lambda: health(api).get("status") == "ok"),
              "control node serves")
        procs["w1"] = start(config, "w1")
        procs["w2"] = start(config, "w2")
        check(wait_for(lambda: health(api).get("instances") == 4),
              "both workers joined: %s" % health(api))
        status, body = request(api, "POST", "/v1/tasks/peek-key/invoke")
        check("PRIVATE KEY" not in body and json.loads(body)["task"]
              == "peek-key", "a task cannot read the nodes' keys: %s" % body)
        for i in range(4):
            status, body = request(api, "POST", "/v1/tasks/shout/invoke",
                                   "x%d" % i)
            check(status == 200 and json.loads(body)["output"] == "X%d" % i,
                  "invoke across nodes: %d %s" % (status, body))

        # Deployed at run time on the control node, run on the workers:
        # every worker has installed a version before the API answers.
        status, body = request(api, "PUT", "/v1/tasks/greet", json.dumps(
            {"command": ["/usr/bin/python3", "greet.py"], "hints": ["db"]}))
        check(status == 201, "a task deployed on a distributed cluster: %d %s"
              % (status, body))
        deploy_code(api, "v1")
        hosts = set()
        for i in range(6):
            status, out, host = invoke_greet(api, "a%d" % i)
            check(status == 200 and out == "v1 a%d" % i,
                  "the deployed code runs on a worker: %d %s" % (status, out))
            hosts.add(host)
        check(hosts <= {"h1", "h2"}, "on the workers' hosts: %s" % hosts)
        deploy_code(api, "v2")
        for i in range(4):
            status, out, _ = invoke_greet(api, "b%d" % i)
            check(status == 200 and out == "v2 b%d" % i,
                  "the next invocation runs the new version: %s" % out)
        # Eight slow ones at once fill the eight slots of both workers.
        first = {}

        def fill(i):
            first[i] = request(api, "POST", "/v1/tasks/slow/invoke")

        fillers = [threading.Thread(target=fill, args=(i,)) for i in range(8)]
        for t in fillers:
            t.start()
        check(wait_for(lambda: health(api).get("in_flight") == 8, 60),
              "eight in flight at once")
        redis_command(redis_port, "RPUSH gate " + " ".join(["x"] * 8))
        for t in fillers:
            t.join()
        hosts = {json.loads(b)["host"] for s, b in first.values() if s == 200}
        check(len(first) == 8 and all(s == 200 for s, _ in first.values()),
              "eight concurrent invocations answered")
        check(hosts == {"h1", "h2"}, "placed on both workers: %s" % hosts)

        # Fill every slot with slow work, then kill w2 with SIGKILL.
        results = {}

        def slow(i, task):
            results[i] = request(api, "POST", "/v1/tasks/%s/invoke" % task)

        threads = [threading.Thread(target=slow,
                                    args=(i, "slow" if i < 4 else
                                          "slow-idempotent"))
                   for i in range(8)]
        for t in threads:
            t.start()
        check(wait_for(lambda: health(api).get("in_flight") == 8, 60),
              "gated work in every slot")
        procs["w2"].send_signal(signal.SIGKILL)
        procs["w2"].wait()
        check(wait_for(lambda: health(api).get("instances") == 2, 60),
              "the lost worker's instances leave the pool")
        # Deployed while w2 is away: it installs it when it joins again.
        deploy_code(api, "v3")
        # Released: h1's four finish, then the retried ones run on h1.
        redis_command(redis_port, "RPUSH gate " + " ".join(["x"] * 16))
        for t in threads:
            t.join()
        answered = 0
        for i in range(8):
            status, body = results[i]
            r = json.loads(body)
            if status == 200:
                answered += 1
                check(r["host"] == "h1" or i >= 4,
                      "a non-idempotent success ran on the surviving host")
            else:
                check(status == 500 and "was lost" in r["error"],
                      "a clear error for work lost with its node: %s" % body)
                check(i < 4, "idempotent work is retried, not failed: %s"
                      % body)
        check(all(results[i][0] == 200 for i in range(4, 8)),
              "every idempotent invocation answered 200: %s"
              % [results[i][0] for i in range(4, 8)])
        check(answered >= 4, "and so at least four of the eight")
        for i in range(6):
            status, body = request(api, "POST", "/v1/tasks/shout/invoke", "y")
            check(status == 200 and json.loads(body)["host"] == "h1",
                  "placements avoid the lost host: %s" % body)

        # The worker comes back and joins again.
        procs["w2"] = start(config, "w2")
        check(wait_for(lambda: health(api).get("instances") == 4),
              "the worker joined again")
        # Only w2 left: the version deployed while it was away runs there.
        procs["w1"].send_signal(signal.SIGKILL)
        procs["w1"].wait()
        killed.add("w1")
        check(wait_for(lambda: health(api).get("instances") == 2, 60),
              "w1's instances leave the pool")
        for i in range(3):
            status, out, host = invoke_greet(api, "c%d" % i)
            check(status == 200 and out == "v3 c%d" % i and host == "h2",
                  "a worker that joined later runs the latest version: "
                  "%d %s on %s" % (status, out, host))
        status, body = request(api, "DELETE", "/v1/tasks/greet")
        check(status == 200, "deleted: %s" % body)
        status, _, _ = invoke_greet(api, "d")
        check(status == 404, "a deleted task is gone: %d" % status)

        # A stranger on the cluster port gets nothing.
        with socket.create_connection(("127.0.0.1", cluster)) as s:
            s.settimeout(2)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(100)
            except (socket.timeout, ConnectionResetError):
                data = b""
            check(b"HTTP" not in data, "no answer to a stranger's bytes")
        check(health(api).get("status") == "ok", "still serving")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in procs.items():
            try:
                code = p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                code = "hung"
            if name not in killed and (name != "w2" or code != -9):
                check(code == 0, "%s exits 0 on SIGTERM (got %s)"
                      % (name, code))
        redis.kill()
        redis.wait()
    # The nodes' traces merge by time, and show messages between nodes.
    # (w2's, as it ran again to the end: w1 was killed.)
    out = subprocess.run([AUGUR, "trace", "dump", TRACES["control"],
                          TRACES["w2"]], capture_output=True, text=True)
    lines = out.stdout.splitlines()
    check(any(" control " in l for l in lines)
          and any(" w2 " in l for l in lines), "records of both nodes")
    check(any("remote@" in l and "execute_request" in l for l in lines),
          "a worker consumed an execute sent from the control node")
    check(any("remote@" in l and "invoke_result" in l for l in lines),
          "the control node consumed a result sent from a worker")
    run_documented_commands()
    if failures:
        print("%d failed" % len(failures))
        sys.exit(1)
    print("node: all checks passed")


def port_free(port):
    with socket.socket() as s:
        # As the servers bind: connections of earlier runs in TIME_WAIT do
        # not make a port busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def run_documented_commands():
    """The header of configs/cluster/three-nodes.toml, line by line, from a
    copy of the repository's layout in a temporary directory (the files the
    commands write stay out of the source tree)."""
    source = os.path.join(SOURCE, "configs", "cluster", "three-nodes.toml")
    commands = [l[1:].strip() for l in open(source)
                if l.startswith("#   augur ")]
    check(len(commands) == 4 and commands[0].startswith("augur certs"),
          "the header lists the certs step and three nodes: %s" % commands)
    root = tempfile.mkdtemp()
    os.makedirs(os.path.join(root, "configs", "cluster"))
    shutil.copy(source, os.path.join(root, "configs", "cluster"))
    # The example's ports are fixed (7400, 8080): say so if they are taken.
    if not (port_free(7400) and port_free(8080)):
        check(False, "ports 7400 and 8080 must be free for the example")
        return
    procs = []
    try:
        for c in commands:
            argv = [AUGUR] + c.split()[1:]
            if argv[1] == "certs":
                r = subprocess.run(argv, cwd=root, capture_output=True,
                                   text=True)
                check(r.returncode == 0, "%s: %s" % (c, r.stderr))
                certs = os.path.join(root, "configs", "cluster", "certs")
                for name in sorted(os.listdir(certs)):
                    mode = os.stat(os.path.join(certs, name)).st_mode & 0o777
                    check(mode == 0o600, "%s is 0600, not %o" % (name, mode))
            else:
                procs.append(subprocess.Popen(argv, cwd=root,
                                              stdout=subprocess.DEVNULL))
        check(wait_for(lambda: health(8080).get("instances") == 4),
              "the documented cluster joins over TLS: %s" % health(8080))
        status, body = request(8080, "POST", "/v1/tasks/shout/invoke", "hi")
        check(status == 200 and json.loads(body)["output"] == "HI",
              "and serves: %s" % body)
        # A stranger's bytes on the cluster port get nothing back.
        with socket.create_connection(("127.0.0.1", 7400)) as s:
            s.settimeout(2)
            s.sendall(b"\x00" * 64)
            try:
                data = s.recv(100)
            except (socket.timeout, ConnectionResetError):
                data = b""
            check(data == b"" or not data.startswith(b"\x00"),
                  "no BASP for a stranger")
        # The last worker is killed, then started again: it joins again.
        procs[-1].send_signal(signal.SIGKILL)
        procs[-1].wait()
        check(wait_for(lambda: health(8080).get("instances") == 2, 60),
              "the killed worker leaves: %s" % health(8080))
        procs[-1] = subprocess.Popen([AUGUR] + commands[-1].split()[1:],
                                     cwd=root, stdout=subprocess.DEVNULL)
        check(wait_for(lambda: health(8080).get("instances") == 4),
              "the restarted worker joins again over TLS: %s" % health(8080))
        for i in range(4):
            status, body = request(8080, "POST", "/v1/tasks/shout/invoke",
                                   "z%d" % i)
            check(status == 200 and json.loads(body)["output"] == "Z%d" % i,
                  "and the cluster serves: %s" % body)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
