"""Helpers shared by the tests that drive augur's processes from Python."""

import socket
import subprocess
import time

failures = []


def check(cond, what):
    """Records a failed expectation (the test goes on, and fails at the end)."""
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def free_port():
    """A loopback port nobody listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(condition, limit=60.0):
    """Polls a real condition (readiness, not a guess), bounded in time (a
    minute by default: only a failure waits that long)."""
    end = time.time() + limit
    while time.time() < end:
        try:
            if condition():
                return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def redis_command(port, command):
    """Sends one inline Redis command; returns the first bytes of the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(command.encode() + b"\r\n")
        return s.recv(100)


def start_redis():
    """A real Redis on a free loopback port, nothing kept on disk; returns
    (process, port) once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--logfile", "/dev/null"])
    check(wait_for(lambda: redis_command(port, "PING") == b"+PONG\r\n"),
          "redis starts")
    return proc, port
