#!/usr/bin/env bash
# Runs the xaa-conform catalogue against authlib's ID-JAG grant (tests/interop/host.py) and
# compares the verdicts with tests/interop/expected.yaml.
#
#   tests/interop/run.sh            exit 0 when every verdict is as expected, 1 otherwise
#   tests/interop/run.sh --update   rewrite expected.yaml from this run (see README.md)
#
# Needs python3 with venv, PyPI (pinned requirements.txt) and the Rust toolchain.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

mode=check
case "${1:-}" in
  "") ;;
  --update) mode=update ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

say() { printf 'interop: %s\n' "$*"; }
started=$(date +%s)

# 1. The virtualenv, reinstalled only when requirements.txt changes.
venv="$root/target/interop-venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-virtualenv -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi
py="$venv/bin/python"
"$py" -c 'from importlib.metadata import version as v; print("interop: authlib", v("authlib"), "flask", v("flask"), "joserfc", v("joserfc"))'

# 2. Build first, so that the host's lifetime is not spent waiting for cargo. The run below
# uses this very binary: a second `cargo run` could wait for the cargo lock or rebuild while
# the host's clock ticks.
say "building xaa-conform (release)"
if ! cargo build --release --locked --quiet; then
  say "cargo build failed"; exit 3
fi
bin="$root/target/release/xaa-conform"

# 3. The worlds. Each has its own host (it binds its own port, 0, and reports it), its own fake
# IdP port (picked free here), key set, target file and reports. A host stops when this script
# exits (trap), and in any case by itself after --max-seconds.
work="$(mktemp -d)"
host_pids=()
cleanup() {
  for pid in "${host_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

export XAA_CLIENT_SECRET="${XAA_CLIENT_SECRET:-interop-c1-$RANDOM$RANDOM}"
export XAA_CLIENT2_SECRET="${XAA_CLIENT2_SECRET:-interop-c2-$RANDOM$RANDOM}"

status=0
reports_root="$root/target/interop-reports"
rm -rf "$reports_root"
mkdir -p "$reports_root"

# run_world NAME ISSUER_PATH EXPECTED_FILE TARGET_EXTRA -- HOST_ARGS...
# Starts the host with HOST_ARGS, writes the target file (the part both worlds share, then
# TARGET_EXTRA with @ISSUER@ replaced), runs the catalogue, and compares (or updates) with
# EXPECTED_FILE. Leaves world_target, world_keys and world_reports for the fuzz step.
run_world() {
  local name="$1" ipath="$2" expected="$3" extra="$4"
  shift 5
  local dir="$work/$name"
  mkdir -p "$dir"
  local idp_port
  idp_port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  local idp_base="http://127.0.0.1:$idp_port"
  local host_log="$root/target/interop-host-$name.log"
  "$py" "$here/host.py" --port 0 --port-file "$dir/port" --idp-base "$idp_base" \
    --max-seconds 600 --issuer-path "$ipath" "$@" >"$host_log" 2>&1 &
  local host_pid=$!
  host_pids+=("$host_pid")

  # Wait until the host answers its RFC 8414 metadata (at most 30 s).
  local port=""
  for _ in $(seq 1 300); do
    if ! kill -0 "$host_pid" 2>/dev/null; then
      say "$name: host.py exited early; its log:"; cat "$host_log" >&2; exit 3
    fi
    if [ -s "$dir/port" ]; then
      port="$(cat "$dir/port")"
      if "$py" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/.well-known/oauth-authorization-server$ipath', timeout=2)" 2>/dev/null; then
        break
      fi
    fi
    port=""
    sleep 0.1
  done
  if [ -z "$port" ]; then
    say "$name: host.py did not answer within 30 s; its log:"; cat "$host_log" >&2; exit 3
  fi
  local issuer="http://127.0.0.1:$port$ipath"
  say "$name: authlib host at $issuer, fake IdP at $idp_base"

  # The target file: what both worlds share, then the world's own fields.
  {
    cat <<EOF
token_endpoint: $issuer/token
issuer: $issuer
client: { id: agent-c1, secret: "\${XAA_CLIENT_SECRET}", auth: client_secret_basic }
client2: { id: agent-c2, secret: "\${XAA_CLIENT2_SECRET}", auth: client_secret_post }
client3: { id: agent-c3 }
whoami: $issuer/api/whoami
resource: $issuer/api/r1
resource2: $issuer/api/r2
idp: { bind: "127.0.0.1:$idp_port" }
jwks_cache_ttl: 5s
jit_provisioning: false
EOF
    printf '%s\n' "${extra//@ISSUER@/$issuer}"
  } >"$dir/target.yaml"

  # The suite. Exit 0 or 1 are results; 2 and 3 mean the run itself failed. One key set for
  # every invocation in this world: each would otherwise make fresh in-memory keys, and the
  # host, still holding the previous run's JWKS for its cache time, would not know them.
  local reports="$reports_root/$name"
  local code=0 t0
  "$bin" keys generate --dir "$dir/keys" >/dev/null
  t0=$(date +%s)
  "$bin" run --target "$dir/target.yaml" --keys "$dir/keys" --report-dir "$reports" \
    >"$reports_root/$name-run.log" 2>&1 || code=$?
  say "$name: xaa-conform exited $code in $(( $(date +%s) - t0 )) s (its output: $reports_root/$name-run.log)"
  if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then
    tail -n 30 "$reports_root/$name-run.log" >&2
    say "$name: the run failed (exit $code); host log:"; tail -n 50 "$host_log" >&2
    exit "$code"
  fi

  # Compare (or update).
  if [ "$mode" = update ]; then
    "$py" "$here/compare.py" --update "$reports/results.json" "$expected" || status=1
  else
    "$py" "$here/compare.py" "$reports/results.json" "$expected" || status=1
  fi
  world_target="$dir/target.yaml"; world_keys="$dir/keys"; world_reports="$reports"
}

# World 2: issuer with a path, other scope names, an allow-list of named subjects, RS256 only.
run_world world2 /tenants/acme "$here/expected-world2.yaml" \
'subject: alice@todos.example
subject_b: carol@todos.example
api: { r1: @ISSUER@/api/r1, r2: @ISSUER@/api/r2, write: { method: POST, scope: todos.write } }
scope: "todos.read todos.write"
accepted_algs: [RS256]' \
  -- --scopes "todos.read todos.write" --algs RS256 \
  --user idp-a:alice@todos.example=alice --user idp-b:carol@todos.example=carol

# World 1 last: the fuzz below runs against its host.
run_world world1 "" "$here/expected.yaml" \
'subject: u1
subject_b: u3
api: { r1: @ISSUER@/api/r1, r2: @ISSUER@/api/r2, write: { method: POST, scope: s.write } }
scope: "s.read s.write"' \
  -- --scopes "s.read s.write" --user idp-a:u1=alice --user idp-b:u1=bob --user idp-b:u3=carol

# 4. Fuzz: generated cases against authlib (world 1). One run collects every distinct finding
# (each shrunk); their keys must be those in fuzz-expected.json, authlib's known findings (a
# JOSE header member it does not know refused, a non-object payload answered 500, aud arrays
# matched by any element, …): a new one or one gone fails (--update rewrites the file). The
# corpus in fuzz-known.json is replayed and must still be refused.
fuzz_expected="$here/fuzz-expected.json"
fcode=0
"$bin" fuzz --target "$world_target" --keys "$world_keys" --cases 1000 --seed 1 \
  --max-findings 30 --report-dir "$world_reports/fuzz" \
  >"$reports_root/world1-fuzz.log" 2>&1 || fcode=$?
if [ "$fcode" -ne 0 ] && [ "$fcode" -ne 1 ]; then
  tail -n 20 "$reports_root/world1-fuzz.log" >&2
  say "the fuzz run against authlib failed (exit $fcode)"
  status=1
else
  "$py" - "$world_reports/fuzz/fuzz.json" "$fuzz_expected" "$mode" <<'PY' || status=1
import json, sys
got_path, want_path, mode = sys.argv[1:]
found = json.load(open(got_path))["findings"]
got = [{"keys": f["keys"], "case": f["minimal"]["token"]["mutation"]} for f in found]
if mode == "update":
    with open(want_path, "w") as out:
        json.dump(got, out, indent=2, ensure_ascii=False)
        out.write("\n")
    print(f"interop: fuzz: {len(got)} finding(s) written to {want_path}")
    sys.exit(0)
want = json.load(open(want_path))
key = lambda f: tuple(sorted(f["keys"]))
new = [f for f in got if key(f) not in {key(w) for w in want}]
gone = [w for w in want if key(w) not in {key(f) for f in got}]
for f in new:
    print(f"interop: fuzz: new finding {f['keys']}: {f['case']}")
for w in gone:
    print(f"interop: fuzz: finding no longer seen {w['keys']}: {w['case']}")
print(f"interop: fuzz: {len(got)} finding(s), {len(new)} new, {len(gone)} gone")
sys.exit(1 if new or gone else 0)
PY
fi
if [ "$mode" = check ]; then
  kcode=0
  "$bin" fuzz --target "$world_target" --keys "$world_keys" --replay "$here/fuzz-known.json" \
    --report-dir "$world_reports/fuzz-known" >"$reports_root/world1-fuzz-known.log" 2>&1 || kcode=$?
  if [ "$kcode" -ne 1 ]; then
    tail -n 20 "$reports_root/world1-fuzz-known.log" >&2
    say "the known divergence in fuzz-known.json no longer shows (exit $kcode): update it"
    status=1
  fi
fi

# 5. Load: authlib judged by `load` as by `run`. A short, slow load with the lane, mixed
# traffic, the replay race and the limit search must give the same verdict as world 1's run for
# every check both judge (agree.py); authlib has no rate limit, so LOAD-01 is INFO.
if [ "$mode" = check ]; then
  lcode=0
  "$bin" load --target "$world_target" --keys "$world_keys" --rate 10 --duration 3s \
    --lane-rate 6 --race 10 --invalid-share 0.3 --find-limit --step 1s --hold 1s \
    --report-dir "$world_reports/load" >"$reports_root/world1-load.log" 2>&1 || lcode=$?
  if [ "$lcode" -ne 0 ] && [ "$lcode" -ne 1 ]; then
    tail -n 20 "$reports_root/world1-load.log" >&2
    say "load against authlib could not judge it (exit $lcode)"
    status=1
  elif ! "$py" "$here/agree.py" "$world_reports/results.json" "$world_reports/load/load.json"; then
    say "load and run disagree about authlib: see $world_reports/load/load.json"
    status=1
  fi
fi
say "done in $(( $(date +%s) - started )) s"
exit "$status"
