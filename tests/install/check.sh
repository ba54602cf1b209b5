#!/usr/bin/env bash
# Installs the build into a fresh prefix, then builds and runs a user's
# project against it with find_package(augur).
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d "$build/install-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source/tests/install" -B "$work/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer"
# Only the public headers are installed: <augur/embedded.hpp> and what it
# includes, nothing of the node runtime, the readers, the demo or the API.
installed=$(cd "$work/prefix/include" && find augur -type f | sort | tr '\n' ' ')
expected="augur/embedded.hpp augur/messages/protocol.hpp augur/model/network_emulator.hpp augur/runtime/execution/task.hpp augur/runtime/tracing/trace_format.hpp "
if [ "$installed" != "$expected" ]; then
  echo "installed headers: $installed" >&2
  echo "expected:          $expected" >&2
  exit 1
fi
