"""thumbnail: reads an image from the object store, writes a thumbnail back
(2 round trips, 64 KiB each way)."""
import hashlib, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import Redis

name = sys.stdin.read() or "img"
store = Redis("store")
image = store.call("GET", "image:" + name) or os.urandom(65536)
thumb = hashlib.sha256(image).digest() * 2048
store.call("SET", "thumb:" + name, thumb)
print("thumb:%s %d bytes" % (name, len(thumb)), end="")
