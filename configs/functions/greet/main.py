"""greet: counts greetings per name in Redis, through augur's gateway."""
import os
import socket
import sys

name = sys.stdin.read().strip() or "world"
host, port = os.environ["AUGUR_SERVICE_CACHE"].split(":")
with socket.create_connection((host, int(port))) as redis:
    key = "greetings:" + name
    redis.sendall(b"*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n" % (len(key), key.encode()))
    count = int(redis.recv(64).strip()[1:])
print("hello %s (%d)" % (name, count))
