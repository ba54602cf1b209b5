#!/usr/bin/python3
"""The include graph of augur's sources runs one way, bottom up.

Every source file belongs to a layer; it may include its own folder and
folders of lower layers only. A new include that points up (or sideways into
another folder of the same layer) fails this test with the file, the line and
the rule. `--counts` prints the cross-folder include counts instead.

    messages
      <- model, probes                       decisions and measurement
      <- runtime/execution, runtime/tracing  processes, gateways, the I/O
                                             thread; the tracing mixin
         runtime/state                       the state file, code archives
      <- actors, include/augur               the actors; the public facade
      <- runtime/node                        one process's runtime
      <- runtime/api, runtime/simulation     HTTP API; replay and reports
      <- runtime/cli                         the command line and the demo
"""
import collections
import os
import re
import sys

LAYERS = {
    "messages": 0,
    "model": 1,
    "probes": 1,
    "runtime/execution": 2,
    "runtime/state": 2,
    "runtime/tracing": 2,
    "actors": 3,
    "include/augur": 3,
    "runtime/node": 4,
    "runtime/api": 5,
    "runtime/simulation": 5,
    "runtime/cli": 6,
}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]augur/([^">]+)[">]')


def folder_of(path):
    """The layer folder of a path relative to the repository root."""
    best = None
    for folder in LAYERS:
        if path == folder or path.startswith(folder + "/"):
            if best is None or len(folder) > len(best):
                best = folder
    return best


def target_folder(included):
    """The folder an `augur/...` include names (the facade lives in
    include/augur, the rest mirrors the repository)."""
    folder = folder_of(included)
    if folder is not None:
        return folder
    return "include/augur"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "--counts" \
        else os.path.join(os.path.dirname(__file__), "..")
    counts = "--counts" in sys.argv
    errors = []
    edges = collections.Counter()
    for top in ("messages", "model", "probes", "actors", "runtime", "include"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith((".hpp", ".cpp")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                source = folder_of(path)
                if source is None:
                    errors.append(f"{path}: in no layer; add its folder to "
                                  "tests/include_order_test.py")
                    continue
                with open(os.path.join(root, path)) as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = target_folder(m.group(1))
                        if target == source:
                            continue
                        edges[(source, target)] += 1
                        if LAYERS[target] >= LAYERS[source]:
                            errors.append(
                                f"{path}:{number}: {source} (layer "
                                f"{LAYERS[source]}) includes {m.group(1)} of "
                                f"{target} (layer {LAYERS[target]}): includes "
                                "may only point to lower layers")
    if counts:
        for (a, b), n in sorted(edges.items()):
            print(f"{n:4} {a} -> {b}")
        print(f"{sum(edges.values()):4} cross-folder includes, "
              f"{len(errors)} against the order")
        return 0
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    print(f"include order: {sum(edges.values())} cross-folder includes, "
          "all pointing down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
