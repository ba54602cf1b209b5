"""sessions: refreshes a user's session in the cache (3 round trips)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import Redis

user = sys.stdin.read() or "anon"
cache = Redis("cache")
cache.call("SET", "session:" + user, "active")
cache.call("EXPIRE", "session:" + user, 60)
hits = cache.call("INCR", "sessions:hits")
print("session %s (%d)" % (user, hits), end="")
