"""hash: pure compute, no service."""
import hashlib, sys

data = sys.stdin.buffer.read()
for _ in range(2000):
    data = hashlib.sha256(data).digest()
print(data.hex(), end="")
