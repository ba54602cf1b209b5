#!/usr/bin/python3
"""An independent reader of augur traces (docs/trace-format.md), with
Python's msgpack: checks that every record has the documented keys and
types, and that the chain of one invocation is there."""

import sys

import msgpack

REQUIRED = {
    "version": int, "time_ns": int, "node": str, "event": str,
    "message": int, "sender": str, "sender_id": int, "receiver": str,
    "receiver_id": int, "type": str, "request": int, "response": bool,
    "invocation": int, "size": int,
}


def main(path):
    records = []
    with open(path, "rb") as f:
        for rec in msgpack.Unpacker(f, raw=False):
            assert isinstance(rec, dict), "a record is a map"
            for key, kind in REQUIRED.items():
                assert key in rec, "missing key " + key
                assert isinstance(rec[key], kind), key + " has the wrong type"
            assert rec["version"] == 1
            assert rec["event"] in ("send", "consume", "drop")
            records.append(rec)
    assert records, "no records"
    # Every consume has its send.
    sends = {r["message"] for r in records if r["event"] == "send"}
    consumed = [r for r in records if r["event"] == "consume"]
    assert all(r["message"] in sends for r in consumed)
    # A negotiated invocation's chain: bids, an execute, an observation.
    inv = next(r["invocation"] for r in consumed
               if r["type"] == "bid_request")
    types = [r["type"] for r in consumed if r["invocation"] == inv]
    for needed in ("bid_request", "bid", "execute_request", "invoke_result",
                   "observation"):
        assert needed in types, needed + " missing from the chain"
    print("python reader: %d records, invocation %d: %s"
          % (len(records), inv, ", ".join(types)))


if __name__ == "__main__":
    main(sys.argv[1])
