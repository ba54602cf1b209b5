"""report: queries the database in one run of five (by payload)."""
import os, sys, zlib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

payload = sys.stdin.read() or "0"
if zlib.crc32(payload.encode()) % 5 == 0:
    from resp import Redis
    db = Redis("db")
    print("orders so far: %s" % db.call("GET", "orders:count"), end="")
else:
    print("cached report", end="")
