#!/usr/bin/env bash
# The command line: exit statuses and what a user reads.
set -euo pipefail
augur=$1
source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$augur" check "$source/configs/demo.toml" | grep -q "ok (4 hosts, 16 instances, 3 services)" \
  || fail "check of the demo config"

printf '[cluster]\nthreshold = 2\n[[host]]\nname = "a"\n' > "$work/bad.toml"
set +e
msg=$("$augur" check "$work/bad.toml" 2>&1); status=$?
set -e
[ "$status" -eq 2 ] || fail "check of a bad file exits $status, not 2"
echo "$msg" | grep -q "bad.toml:2: key 'cluster.threshold': must be within \[0, 1\], got 2" \
  || fail "check names file, line and key: $msg"

set +e
msg=$("$augur" simulate "$work/bad.toml" 2>&1); status=$?
set -e
[ "$status" -eq 2 ] || fail "simulate of a bad scenario exits $status, not 2"

set +e
"$augur" simulate "$source/configs/scenarios/zones.toml" --policy magic >/dev/null 2>&1; status=$?
set -e
[ "$status" -eq 2 ] || fail "an unknown policy exits $status, not 2"

"$augur" demo --virtual --requests 500 --config "$source/configs/demo.toml" > "$work/demo.txt"
grep -q "negotiated" "$work/demo.txt" || fail "demo shows negotiated placements"
grep -q "least-loaded" "$work/demo.txt" || fail "demo compares with least-loaded"

# The README's first command, for real: Redis, processes, HTTP.
"$augur" demo --requests 40 --config "$source/configs/demo.toml" > "$work/real.txt"
grep -q "a local Redis on 127.0.0.1:" "$work/real.txt" || fail "real demo starts Redis"
grep -q "0 failed; least-loaded: .* 0 failed" "$work/real.txt" || fail "real demo: nothing failed: $(cat "$work/real.txt")"
grep -q "orders .*negotiated" "$work/real.txt" || fail "real demo negotiates orders"

"$augur" simulate "$source/configs/scenarios/zones.toml" --policy all --json > "$work/zones.json"
"$augur" plot "$work/zones.json" -o "$work/zones.svg" >/dev/null
grep -q "<svg" "$work/zones.svg" || fail "plot writes an SVG"
grep -q "predictive" "$work/zones.svg" || fail "the plot names the policies"
# Tracing: an independent reader, the commands, damage.
"$augur" demo --virtual --requests 100 --config "$source/configs/demo.toml" \
  --trace "$work/demo.trace" > /dev/null
/usr/bin/python3 "$source/tests/trace_reader.py" "$work/demo.trace"
"$augur" trace dump "$work/demo.trace" --invocation 3 > "$work/dump.txt"
grep -q "execute_request" "$work/dump.txt" || fail "dump shows the execute of invocation 3"
grep -v -q "inv=3" "$work/dump.txt" && fail "dump --invocation shows only invocation 3"
"$augur" trace summary "$work/demo.trace" | grep -q "per-hop latency" || fail "summary"
"$augur" trace chrome "$work/demo.trace" -o "$work/chrome.json" > /dev/null
/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['traceEvents']" "$work/chrome.json"
size=$(stat -c %s "$work/demo.trace")
head -c $((size / 2)) "$work/demo.trace" > "$work/cut.trace"
printf 'garbage' >> "$work/cut.trace"
set +e
msg=$("$augur" trace summary "$work/cut.trace" 2>&1 >/dev/null); status=$?
set -e
[ "$status" -eq 1 ] || fail "a damaged trace exits $status, not 1"
echo "$msg" | grep -q "damaged from byte" || fail "the damage is located: $msg"
echo "cli: all checks passed"

# The sandbox: without bwrap a server with process tasks does not start,
# and says what to install; `mode = "none"` is said in so many words.
cat > "$work/boxed.toml" <<'TOML'
[api]
listen = "127.0.0.1:0"

[[host]]
name = "a"

[[task]]
name = "hello"
command = ["/bin/echo", "hi"]
TOML
set +e
msg=$(PATH=/nonexistent "$augur" serve --config "$work/boxed.toml" 2>&1 </dev/null); status=$?
set -e
[ "$status" -eq 2 ] || fail "serve without bwrap exits $status, not 2: $msg"
echo "$msg" | grep -q "boxed.toml:.*key 'sandbox.mode'.*bubblewrap" \
  || fail "the refusal names the file, the key and the package: $msg"
printf '[sandbox]\nmode = "chroot"\n' >> "$work/boxed.toml"
set +e
msg=$("$augur" check "$work/boxed.toml" 2>&1); status=$?
set -e
[ "$status" -eq 2 ] || fail "an unknown sandbox mode exits $status, not 2"
echo "$msg" | grep -q "key 'sandbox.mode': unknown sandbox mode 'chroot'" \
  || fail "an unknown sandbox mode is named: $msg"
