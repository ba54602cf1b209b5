"""orders: records an order in the database (4 round trips)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import Redis

order = sys.stdin.read() or "0"
db = Redis("db")
n = db.call("INCR", "orders:count")
db.call("HSET", "order:%s" % order, "status", "placed")
db.call("LPUSH", "orders:recent", order)
db.call("LTRIM", "orders:recent", 0, 99)
print("order %s placed (#%d)" % (order, n), end="")
