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

# 3. Ports: the host binds its own (port 0) and reports it; the IdP's is picked free here.
work="$(mktemp -d)"
host_pid=""
cleanup() {
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    kill "$host_pid" 2>/dev/null || true
    wait "$host_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

idp_port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
idp_base="http://127.0.0.1:$idp_port"

export XAA_CLIENT_SECRET="${XAA_CLIENT_SECRET:-interop-c1-$RANDOM$RANDOM}"
export XAA_CLIENT2_SECRET="${XAA_CLIENT2_SECRET:-interop-c2-$RANDOM$RANDOM}"

host_log="$root/target/interop-host.log"
"$py" "$here/host.py" --port 0 --port-file "$work/port" --idp-base "$idp_base" \
  --max-seconds 600 >"$host_log" 2>&1 &
host_pid=$!

# 4. Wait until the host answers (at most 30 s).
port=""
for _ in $(seq 1 300); do
  if ! kill -0 "$host_pid" 2>/dev/null; then
    say "host.py exited early; its log:"; cat "$host_log" >&2; exit 3
  fi
  if [ -s "$work/port" ]; then
    port="$(cat "$work/port")"
    if "$py" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/.well-known/oauth-authorization-server', timeout=2)" 2>/dev/null; then
      break
    fi
  fi
  port=""
  sleep 0.1
done
if [ -z "$port" ]; then
  say "host.py did not answer within 30 s; its log:"; cat "$host_log" >&2; exit 3
fi
issuer="http://127.0.0.1:$port"
say "authlib host at $issuer, fake IdP at $idp_base"

# 5. The target file.
cat >"$work/target.yaml" <<EOF
token_endpoint: $issuer/token
issuer: $issuer
client: { id: agent-c1, secret: "\${XAA_CLIENT_SECRET}", auth: client_secret_basic }
client2: { id: agent-c2, secret: "\${XAA_CLIENT2_SECRET}", auth: client_secret_post }
client3: { id: agent-c3 }
subject: u1
subject_b: u3
whoami: $issuer/api/whoami
resource: $issuer/api/r1
resource2: $issuer/api/r2
api: { r1: $issuer/api/r1, r2: $issuer/api/r2 }
scope: "s.read s.write"
idp: { bind: "127.0.0.1:$idp_port" }
jwks_cache_ttl: 5s
EOF

# 6. The suite. Exit 0 or 1 are results; 2 and 3 mean the run itself failed.
reports="$root/target/interop-reports"
rm -rf "$reports"
code=0
# One key set for every invocation below: each would otherwise make fresh in-memory keys, and
# the host, still holding the previous run's JWKS for its cache time, would not know them.
"$bin" keys generate --dir "$work/keys" >/dev/null
"$bin" run --target "$work/target.yaml" --keys "$work/keys" --report-dir "$reports" || code=$?
say "xaa-conform exited $code"
if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then
  say "the run failed (exit $code); host log:"; tail -n 50 "$host_log" >&2
  exit "$code"
fi

# 7. Compare (or update).
status=0
if [ "$mode" = update ]; then
  "$py" "$here/compare.py" --update "$reports/results.json" "$here/expected.yaml" || status=$?
else
  "$py" "$here/compare.py" "$reports/results.json" "$here/expected.yaml" || status=$?
fi

# 8. Fuzz: generated cases against authlib (check mode only). Its one known divergence,
# refusing JOSE header members it does not know (RFC 7515 §4: ignore them), is replayed from
# fuzz-known.json and must still be refused; generation leaves that step kind out to look
# for any other violation, of which there must be none.
if [ "$mode" = check ]; then
  fcode=0
  "$bin" fuzz --target "$work/target.yaml" --keys "$work/keys" --cases 1000 --seed 1 --without extra_header \
    --report-dir "$reports/fuzz" || fcode=$?
  if [ "$fcode" -ne 0 ]; then
    say "fuzz found a new violation against authlib (exit $fcode): see $reports/fuzz/fuzz.json"
    status=1
  fi
  kcode=0
  "$bin" fuzz --target "$work/target.yaml" --keys "$work/keys" --replay "$here/fuzz-known.json" \
    --report-dir "$reports/fuzz-known" || kcode=$?
  if [ "$kcode" -ne 1 ]; then
    say "the known divergence in fuzz-known.json no longer shows (exit $kcode): update it and the --without above"
    status=1
  fi
fi
say "done in $(( $(date +%s) - started )) s"
exit "$status"
