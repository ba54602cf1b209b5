#!/usr/bin/python3
"""Deploy-to-first-invocation time, through the real server: `augur serve`
with a real Redis, a Python function that uses it deployed over the API
(definition, then a .tar.gz of its code) and invoked at once; the time from
the first PUT to the first answer, for fresh tasks, and a warm invocation of
each for comparison. Prints JSON.

    bench/deploy.py AUGUR [--tasks N]"""

import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests"))
import platform_test as pt  # noqa: E402
from testlib import start_redis  # noqa: E402


def main():
    augur = sys.argv[1]
    tasks = int(sys.argv[sys.argv.index("--tasks") + 1]) \
        if "--tasks" in sys.argv else 10
    pt.AUGUR = augur
    workdir = tempfile.mkdtemp()
    redis, redis_port = start_redis()
    path = os.path.join(workdir, "bench.toml")
    with open(path, "w") as f:
        f.write(pt.CONFIG.format(redis=redis_port))
    proc = None
    try:
        proc, port = pt.start(path)
        code = pt.tgz(pt.greet_code("hello"))
        first, warm = [], []
        for i in range(tasks):
            name = "bench%d" % i
            t0 = time.perf_counter()
            s1, _ = pt.request(port, "PUT", "/v1/tasks/" + name,
                               json.dumps({"command": ["python3", "main.py"],
                                           "hints": ["cache"]}))
            s2, _ = pt.request(port, "PUT", "/v1/tasks/%s/code" % name, code)
            s3, r = pt.request(port, "POST", "/v1/tasks/%s/invoke" % name, "x")
            first.append((time.perf_counter() - t0) * 1000)
            if (s1, s2, s3) != (201, 200, 200) or not r["cold_start"]:
                sys.exit("bench: deploy %s failed: %s %s %s" % (name, s1, s2, s3))
            t0 = time.perf_counter()
            s4, r = pt.request(port, "POST", "/v1/tasks/%s/invoke" % name, "x")
            warm.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({
            "tasks": tasks,
            "code_bytes": len(code),
            "deploy_to_first_answer_ms": {
                "median": round(statistics.median(first), 1),
                "min": round(min(first), 1), "max": round(max(first), 1)},
            "warm_invocation_ms": {
                "median": round(statistics.median(warm), 1),
                "min": round(min(warm), 1), "max": round(max(warm), 1)},
        }))
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        redis.kill()
        redis.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
