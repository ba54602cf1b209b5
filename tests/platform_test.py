#!/usr/bin/python3
"""augur as a platform, over real HTTP against the real binary with a real
Redis: functions deployed at run time (definitions, code archives, versions,
tenants, deletion during a run), asynchronous invocations and their records,
state that survives `kill -9`, a damaged state file, and the command-line
client. Usage: platform_test.py AUGUR"""

import http.client
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, failures, redis_command, start_redis, wait_for  # noqa: E402,E501

AUGUR = sys.argv[1]
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

CONFIG = """
[cluster]
probe_interval_ms = 50
cold_start_ms = 0

[api]
listen = "127.0.0.1:0"

[state]
max_code_bytes = 65536
max_unpacked_bytes = 1048576

[[tenant]]
name = "alice"
token = "alice-token"
tasks = ["fixed"]

[[tenant]]
name = "bob"
token = "bob-token"
tasks = []

[[host]]
name = "h1"
instances = 1
slots = 4

[[service]]
name = "cache"
kind = "redis"
endpoint = "127.0.0.1:{redis}"

[[task]]
name = "fixed"
command = ["echo", "from the file"]
"""

# A function that uses Redis through its gateway (the client it ships).
GREET = """import sys
from resp import Redis
name = sys.stdin.read() or "world"
n = Redis("cache").call("INCR", "greetings:" + name)
print("%s %s (%d)" % (GREETING, name, n), end="")
"""

# Says it started, then runs until the test releases it (no timing).
HOLD = """from resp import Redis
r = Redis("cache")
r.call("RPUSH", "started", "1")
r.call("BLPOP", "release", "0")
print("released", end="")
"""


def request(port, method, path, body=None, token="alice-token"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": "Bearer " + token} if token else {}
    conn.request(method, path, body=body, headers=headers)
    res = conn.getresponse()
    data = res.read().decode()
    conn.close()
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    return res.status, doc


def tgz(files, extra=None):
    """A .tar.gz of `files` (name -> text), plus `extra` TarInfo entries."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
        for info in extra or []:
            t.addfile(info)
    return out.getvalue()


def resp_py():
    with open(os.path.join(SOURCE, "configs", "tasks", "resp.py")) as f:
        return f.read()


def greet_code(greeting):
    return {"main.py": GREET.replace("GREETING", repr(greeting)),
            "resp.py": resp_py()}


def start(path, expect_ok=True):
    proc = subprocess.Popen([AUGUR, "serve", "--config", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if not expect_ok:
        return proc, None
    line = proc.stdout.readline()
    check("serving on http://127.0.0.1:" in line, "serve prints its address")
    port = int(line.split("http://127.0.0.1:")[1].split(" ")[0])
    return proc, port


def stored(path, sql):
    """Reads what the state file holds now, from a copy (the server keeps
    the file itself locked)."""
    copy = tempfile.mkdtemp()
    try:
        for suffix in ("", "-wal"):
            if os.path.exists(path + suffix):
                shutil.copy(path + suffix,
                            os.path.join(copy, "s.state" + suffix))
        db = sqlite3.connect(os.path.join(copy, "s.state"))
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    finally:
        shutil.rmtree(copy)


def deploy_checks(port, redis_port):
    # A definition, then its code: each a new version.
    status, t = request(port, "PUT", "/v1/tasks/greet",
                        json.dumps({"command": ["python3", "main.py"],
                                    "hints": ["cache"]}))
    check(status == 201, "a new task is created (201): %s" % status)
    v1 = t["version"]
    status, t = request(port, "PUT", "/v1/tasks/greet/code",
                        tgz(greet_code("hello")))
    check(status == 200 and t["version"] > v1 and t["code"]["format"]
          == "tar.gz", "code makes a new version: %s %s" % (status, t))
    v2 = t["version"]
    status, r = request(port, "POST", "/v1/tasks/greet/invoke", "bob")
    check(status == 200 and r["output"] == "hello bob (1)",
          "the deployed function runs and uses Redis: %s %s" % (status, r))
    check(r["cold_start"], "its first run is cold")
    status, r = request(port, "POST", "/v1/tasks/greet/invoke", "bob")
    check(status == 200 and not r["cold_start"]
          and r["output"] == "hello bob (2)", "the second run is warm")
    # Redeploy: the next invocation runs the new version, cold.
    status, t = request(port, "PUT", "/v1/tasks/greet/code",
                        tgz(greet_code("hi")))
    check(status == 200 and t["version"] > v2, "redeploy: a new version")
    status, r = request(port, "POST", "/v1/tasks/greet/invoke", "bob")
    check(status == 200 and r["output"] == "hi bob (3)",
          "the new version runs: %s" % r.get("output"))
    check(r["cold_start"], "a new version is cold on a warm instance")
    status, t = request(port, "GET", "/v1/tasks/greet")
    check(status == 200 and t["source"] == "api" and t["version"] > v2,
          "GET shows the deployed version")
    # A bad definition changes nothing.
    for body, why in [("{", "malformed JSON body"),
                      ('{"command": []}', "command must name a program"),
                      ('{"command": ["x"], "hints": ["nope"]}',
                       "no service named 'nope'"),
                      ('{"command": ["x"], "colour": 1}', "unknown key")]:
        status, e = request(port, "PUT", "/v1/tasks/greet", body)
        check(status == 400 and why in e["error"],
              "definition %r: 400 %s (%s %s)" % (body, why, status, e))
    status, e = request(port, "PUT", "/v1/tasks/bad%20name", '{"command":["x"]}')
    check(status == 400, "a task name with a space is refused")


def archive_checks(port):
    before = request(port, "GET", "/v1/tasks/greet")[1]["version"]
    link_out = tarfile.TarInfo("link")
    link_out.type = tarfile.SYMTYPE
    link_out.linkname = "/etc/passwd"
    link_up = tarfile.TarInfo("sub/link")
    link_up.type = tarfile.SYMTYPE
    link_up.linkname = "../../outside"
    device = tarfile.TarInfo("tty")
    device.type = tarfile.CHRTYPE
    device.devmajor, device.devminor = 5, 0
    good = tgz(greet_code("hello"))
    cases = [
        ("../", tgz({"../evil.py": "x"}), 400, "climbs out"),
        ("absolute", tgz({"/tmp/augur-evil.py": "x"}), 400, "absolute"),
        ("symlink out", tgz({"a": "x"}, [link_out]), 400, "points out"),
        ("symlink up", tgz({"a": "x"}, [link_up]), 400, "points out"),
        ("device", tgz({"a": "x"}, [device]), 400, "device files"),
        ("oversized", os.urandom(70000), 413, "over the limit"),
        ("bomb", tgz({"zeros": "\0" * (2 << 20)}), 413, "unpacks to more"),
        ("truncated", good[:len(good) // 2], 400, "damaged or truncated"),
        ("not an archive", b"hello, world" * 10, 400, ""),
    ]
    for what, data, want, why in cases:
        status, e = request(port, "PUT", "/v1/tasks/greet/code", data)
        check(status == want and why in (e or {}).get("error", ""),
              "archive %s: %d %r (got %s %s)" % (what, want, why, status, e))
    check(not os.path.exists("/tmp/augur-evil.py"),
          "nothing was written outside the task's directory")
    status, t = request(port, "GET", "/v1/tasks/greet")
    check(t["version"] == before, "refused archives change nothing")
    status, r = request(port, "POST", "/v1/tasks/greet/invoke", "ann")
    check(status == 200 and r["output"].startswith("hi ann"),
          "the task still runs its last good version")
    # A zip is taken too.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in greet_code("zipped").items():
            z.writestr(name, text)
    status, t = request(port, "PUT", "/v1/tasks/greet/code", out.getvalue())
    check(status == 200 and t["code"]["format"] == "zip", "a .zip deploys")
    status, r = request(port, "POST", "/v1/tasks/greet/invoke", "zed")
    check(r["output"] == "zipped zed (1)", "the zipped code runs: %s" % r)


def tenant_checks(port):
    # Bob sees nothing of Alice's: her task is not there for him.
    for method, path in [("GET", "/v1/tasks/greet"),
                         ("POST", "/v1/tasks/greet/invoke"),
                         ("GET", "/v1/tasks/greet/profile"),
                         ("DELETE", "/v1/tasks/greet"),
                         ("PUT", "/v1/tasks/greet/code")]:
        status, _ = request(port, method, path, b"x", token="bob-token")
        check(status == 404, "bob %s %s: 404 (got %s)" % (method, path, status))
    status, tasks = request(port, "GET", "/v1/tasks", token="bob-token")
    check(tasks["tasks"] == [], "bob lists none of alice's tasks: %s" % tasks)
    # His own task of the same name is his alone.
    status, t = request(port, "PUT", "/v1/tasks/greet",
                        '{"command": ["echo", "bob\'s"]}', token="bob-token")
    check(status == 201, "bob deploys his own 'greet'")
    status, r = request(port, "POST", "/v1/tasks/greet/invoke",
                        token="bob-token")
    check(r["output"].strip() == "bob's", "bob's greet runs his command")
    status, r = request(port, "POST", "/v1/tasks/greet/invoke", "al")
    check(r["output"].startswith("zipped al"), "alice's greet is untouched")
    # The cluster file's tasks are read-only; bob may not even use them.
    for method in ("PUT", "DELETE"):
        status, e = request(port, method, "/v1/tasks/fixed",
                            '{"command": ["true"]}')
        check(status == 403 and "read-only" in e["error"],
              "%s of a cluster-file task: 403 read-only" % method)
    status, _ = request(port, "POST", "/v1/tasks/fixed/invoke",
                        token="bob-token")
    check(status == 403, "bob may not invoke alice's file task (403)")
    status, tasks = request(port, "GET", "/v1/tasks")
    check(tasks["tasks"] == ["fixed", "greet"], "alice lists her tasks")


def async_and_delete_checks(port, redis_port):
    code = {"main.py": HOLD, "resp.py": resp_py()}
    request(port, "PUT", "/v1/tasks/hold",
            json.dumps({"command": ["python3", "main.py"],
                        "hints": ["cache"]}))
    request(port, "PUT", "/v1/tasks/hold/code", tgz(code))
    status, a = request(port, "POST", "/v1/tasks/hold/invoke?wait=false")
    check(status == 202 and a["status"] == "running", "async: 202 at once")
    status, rec = request(port, "GET", "/v1/invocations/%d" % a["id"])
    check(status == 200 and rec["status"] == "running"
          and rec["finished_ms"] is None, "its record says running: %s" % rec)
    check(wait_for(lambda: redis_command(redis_port, "LLEN started")
                   == b":1\r\n"), "the execution started")
    status, _ = request(port, "DELETE", "/v1/tasks/hold")
    check(status == 200, "delete during an execution")
    status, _ = request(port, "POST", "/v1/tasks/hold/invoke")
    check(status == 404, "a deleted task: new invocations get 404")
    redis_command(redis_port, "RPUSH release go")

    def finished():
        s, r = request(port, "GET", "/v1/invocations/%d" % a["id"])
        return r["status"] != "running"
    check(wait_for(finished), "the running execution finishes")
    status, rec = request(port, "GET", "/v1/invocations/%d" % a["id"])
    check(rec["status"] == "ok" and rec["output"] == "released"
          and rec["instance"] == "h1/0" and rec["finished_ms"]
          >= rec["created_ms"], "it finished after the delete: %s" % rec)
    status, _ = request(port, "GET", "/v1/invocations/%d" % a["id"],
                        token="bob-token")
    check(status == 404, "bob cannot read alice's records")
    status, lst = request(port, "GET", "/v1/invocations?task=greet&limit=2")
    ids = [r["id"] for r in lst["invocations"]]
    check(status == 200 and len(ids) == 2 and ids[0] > ids[1]
          and all(r["task"] == "greet" for r in lst["invocations"]),
          "the latest records of a task, newest first: %s" % ids)
    status, e = request(port, "GET", "/v1/invocations?limit=0")
    check(status == 400, "a bad limit is a 400")


def cli(port, *args, token="alice-token", data=None):
    env = dict(os.environ, AUGUR_URL="http://127.0.0.1:%d" % port,
               AUGUR_TOKEN=token)
    p = subprocess.run([AUGUR] + list(args), env=env, capture_output=True,
                       text=True, input=data, timeout=120)
    return p.returncode, p.stdout, p.stderr


def cli_checks(port, workdir):
    fn = os.path.join(workdir, "fn")
    os.makedirs(fn, exist_ok=True)
    for name, text in greet_code("hey").items():
        with open(os.path.join(fn, name), "w") as f:
            f.write(text)
    rc, out, err = cli(port, "task", "deploy", "cli-greet", "--code", fn,
                       "--hint", "cache", "--", "python3", "main.py")
    check(rc == 0 and out.startswith("deployed cli-greet version "),
          "cli: task deploy a directory (%s %s %s)" % (rc, out, err))
    rc, out, _ = cli(port, "task", "list")
    check(rc == 0 and out.splitlines()[0].split() ==
          ["NAME", "SOURCE", "VERSION", "COMMAND"] and "cli-greet" in out,
          "cli: task list is a table")
    rc, out, _ = cli(port, "task", "list", "--json")
    check(rc == 0 and "cli-greet" in json.loads(out)["tasks"],
          "cli: task list --json")
    rc, out, _ = cli(port, "task", "show", "cli-greet")
    check(rc == 0 and "command:     python3 main.py" in out,
          "cli: task show")
    rc, out, _ = cli(port, "invoke", "cli-greet", "--data", "kim")
    check(rc == 0 and out == "hey kim (1)\n", "cli: invoke prints the output")
    payload = os.path.join(workdir, "payload")
    with open(payload, "w") as f:
        f.write("lee")
    rc, out, _ = cli(port, "invoke", "cli-greet", "--data", "@" + payload,
                     "--json")
    doc = json.loads(out)
    check(rc == 0 and doc["output"] == "hey lee (1)", "cli: invoke @FILE --json")
    rc, out, _ = cli(port, "invoke", "cli-greet", "--async")
    check(rc == 0 and out.strip().isdigit(), "cli: invoke --async prints an id")
    ident = out.strip()

    def done():
        return "ok" in cli(port, "invocation", "show", ident)[1]
    check(wait_for(done), "cli: the async invocation's record")
    rc, out, _ = cli(port, "invocation", "show", ident)
    check(rc == 0 and "status:      ok" in out and "hey world" in out,
          "cli: invocation show")
    rc, out, _ = cli(port, "invocation", "list", "--task", "cli-greet",
                     "--limit", "2")
    lines = out.splitlines()
    check(rc == 0 and lines[0].split()[:3] == ["ID", "TASK", "STATUS"]
          and len(lines) == 3 and lines[1].split()[0] == ident,
          "cli: invocation list, newest first")
    rc, out, _ = cli(port, "profile", "cli-greet")
    check(rc == 0 and "3 observations" in out and "cache" in out,
          "cli: profile (%s)" % out)
    rc, out, _ = cli(port, "profile", "cli-greet", "--json")
    check(rc == 0 and json.loads(out)["services"][0]["service"] == "cache",
          "cli: profile --json")
    rc, out, _ = cli(port, "channels")
    check(rc == 0 and out.split()[:6] == ["HOST", "SERVICE", "SRTT_MS",
                                          "RTTVAR_MS", "LOSS", "STATE"]
          and "h1" in out, "cli: channels")
    rc, out, _ = cli(port, "instances", "--json")
    check(rc == 0 and json.loads(out)["instances"][0]["name"] == "h1/0",
          "cli: instances --json")
    rc, out, _ = cli(port, "instances", token="bob-token")
    check(rc == 0 and "cli-greet" not in out,
          "cli: bob's instances show none of alice's warm tasks")
    # Exit status: 1 when augur says it failed, 2 when it cannot be asked.
    cli(port, "task", "deploy", "fails", "--", "false")
    rc, _, err = cli(port, "invoke", "fails")
    check(rc == 1 and "failed" in err, "cli: a failed invocation exits 1")
    rc, _, err = cli(port, "task", "show", "nothing")
    check(rc == 1 and "404" in err, "cli: an unknown task exits 1")
    rc, _, err = cli(port, "invoke", "fails", "--url", "http://127.0.0.1:1")
    check(rc == 2 and "cannot reach" in err, "cli: no server exits 2")
    rc, _, _ = cli(port, "invoke")
    check(rc == 2, "cli: a usage error exits 2")
    for sub in (["task", "deploy"], ["task", "list"], ["invoke"],
                ["invocation", "list"], ["profile"], ["channels"],
                ["instances"]):
        rc, out, _ = cli(port, *(sub + ["--help"]))
        check(rc == 0 and "Example" in out, "cli: %s --help has an example"
              % " ".join(sub))
    rc, out, _ = cli(port, "task", "delete", "cli-greet")
    check(rc == 0 and out == "deleted cli-greet\n", "cli: task delete")


def restart_checks(path, proc, port):
    state = path[:-len(".toml")] + ".state"
    status, p = request(port, "GET", "/v1/tasks/greet/profile")
    observed = p["observations"]
    check(observed >= 5, "greet learned from its runs (%d)" % observed)
    check(wait_for(lambda: stored(state, "SELECT observations FROM profiles "
                                  "WHERE task = 'alice/greet'")
                   == [(observed,)]),
          "the profile reaches the state file (batched)")
    status, last = request(port, "GET", "/v1/invocations?limit=1")
    last_record = last["invocations"][0]
    last_id = last_record["id"]
    version = request(port, "GET", "/v1/tasks/greet")[1]["version"]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc, port = start(path)
    status, t = request(port, "GET", "/v1/tasks/greet")
    check(status == 200 and t["version"] == version,
          "after kill -9: the deployment is there, same version")
    status, p2 = request(port, "GET", "/v1/tasks/greet/profile")
    check(p2 == p, "after kill -9: the profile is as learned (%s vs %s)"
          % (p2, p))
    status, rec = request(port, "GET", "/v1/invocations/%d" % last_id)
    check(status == 200 and rec == last_record,
          "after kill -9: the records are there and whole")
    status, r = request(port, "POST", "/v1/tasks/greet/invoke", "bo")
    check(status == 200 and r["output"].startswith("zipped bo")
          and r["id"] > last_id, "after kill -9: it runs; ids go on")
    status, tasks = request(port, "GET", "/v1/tasks", token="bob-token")
    check(tasks["tasks"] == ["greet"], "after kill -9: bob's task is his")
    # A second server on the same state is refused while this one runs.
    other, _ = start(path, expect_ok=False)
    _, err = other.communicate(timeout=60)
    check(other.returncode == 2 and state in err
          and "another process holds it" in err,
          "a second server on the same state file: exit 2 (%s)" % err)
    return proc


def corrupt_checks(path):
    state = path[:-len(".toml")] + ".state"
    with open(state, "r+b") as f:
        f.write(b"this is not what augur wrote" * 4)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(state + suffix):
            os.remove(state + suffix)
    proc, _ = start(path, expect_ok=False)
    out, err = proc.communicate(timeout=60)
    check(proc.returncode == 2 and "state file " + state in err
          and "serving" not in out,
          "a damaged state file is a start-up error naming it (%s)" % err)
    os.chmod(state, 0)
    if os.geteuid() != 0:
        proc, _ = start(path, expect_ok=False)
        _, err = proc.communicate(timeout=60)
        check(proc.returncode == 2 and state in err,
              "an unreadable state file: exit 2 naming it")


def main():
    workdir = tempfile.mkdtemp()
    redis, redis_port = start_redis()
    path = os.path.join(workdir, "platform.toml")
    with open(path, "w") as f:
        f.write(CONFIG.format(redis=redis_port))
    proc = None
    try:
        proc, port = start(path)
        deploy_checks(port, redis_port)
        archive_checks(port)
        tenant_checks(port)
        async_and_delete_checks(port, redis_port)
        cli_checks(port, workdir)
        proc = restart_checks(path, proc, port)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        corrupt_checks(path)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        elif proc is not None and proc.returncode not in (0, -signal.SIGTERM):
            # It died on its own: what it said (a sanitizer's report).
            print("the server exited with %s:\n%s"
                  % (proc.returncode, proc.stderr.read()[-20000:]))
        redis.kill()
        redis.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print("%d failed" % len(failures))
        sys.exit(1)
    print("platform: all checks passed")


if __name__ == "__main__":
    main()
