#!/usr/bin/env bash
# The container image, built and run on one machine:
#  1. build it (deploy/image/build.sh; options such as --binary PATH are passed on) and check
#     what it offers: the user 65532, the entrypoint, `--version`;
#  2. `xaa-conform run` in a container against the embedded reference: exit 0, the reports
#     written to a mounted folder;
#  3. the Kubernetes Indexed Job of deploy/k8s/, simulated: keys made by `keys generate` in a
#     container and laid out as the kubelet mounts the Secret (root:65532, mode 0440, the
#     pod's fsGroup); the reference RAS served with a rate limit in one container; one
#     single-process `load` for comparison; three `load --shard i/3` containers side by side
#     with the same keys mounted read-only; `load merge` in a fourth (exit 0, and the exit
#     codes the merge Job promises: 2 for a missing shard, 4 for a breached threshold); the
#     merged request count, accepted rate and measured limit (the sum of the shards' shares; a
#     shard that saw no 429 counts its accepted rate) within 10 % of the single process's, both
#     near the limit.
# Containers share the host's network (--network host) on free loopback ports. Every
# container is started with --rm and a --timeout, and the exit trap removes any left.
#
# Needs podman (or docker with XAA_ENGINE=docker) and python3. On a machine whose cgroups or
# rlimits the default runtime refuses, point CONTAINERS_CONF at a containers.conf that picks
# runc with the cgroupfs manager and no default ulimits (.ci/run writes one). Run as root (as
# CI does); rootless, the mounted folders are made world-writable instead of chowned.
# Environment: XAA_IMAGE_TEST_RATE (default 100/s), XAA_IMAGE_TEST_LIMIT (the reference's
# rate limit, default 50/s), XAA_IMAGE_TEST_DURATION (default 20s).
set -euo pipefail
cd "$(dirname "$0")/../.."

engine="${XAA_ENGINE:-podman}"
export XAA_ENGINE="$engine"
rate="${XAA_IMAGE_TEST_RATE:-100}"
limit="${XAA_IMAGE_TEST_LIMIT:-50}"
duration="${XAA_IMAGE_TEST_DURATION:-20s}"
uid=65532

say() { printf '\n-- %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
fail() { echo "image test: FAILED: $*" >&2; exit 1; }

prefix="xaa-image-test-$$"
work="$(mktemp -d "${TMPDIR:-/tmp}/xaa-image-test.XXXXXX")"
started=()
cleanup() {
  local code=$?
  for name in "${started[@]}"; do
    "$engine" rm -f -t 0 "$name" >/dev/null 2>&1 || true
  done
  if [ "$(id -u)" -eq 0 ] || [ "$engine" != podman ]; then
    rm -rf "$work"
  else
    podman unshare rm -rf "$work" 2>/dev/null || rm -rf "$work" || true
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A folder the container user may write in.
user_dir() {
  mkdir -p "$1"
  if [ "$(id -u)" -eq 0 ]; then chown "$uid:$uid" "$1"; else chmod 0777 "$1"; fi
}

# As the manifests' securityContext: a read-only root, no capabilities, no privilege gain.
confined=(--read-only --cap-drop=all --security-opt=no-new-privileges)

# `engine run` with the test's defaults: removed when done, killed after $1 seconds, never a
# pull, the host's network, confined. Usage: crun NAME SECONDS [run options…] IMAGE ARGS…
crun() {
  local name="$prefix-$1" secs="$2"
  shift 2
  started+=("$name")
  "$engine" run --rm --pull=never --name "$name" --timeout "$secs" --network host "${confined[@]}" "$@"
}

say "build the image (deploy/image/build.sh)"
t0=$(date +%s)
image="$(deploy/image/build.sh "$@" | tail -n 1)"
build_s=$(($(date +%s) - t0))
size=$("$engine" image inspect --format '{{.Size}}' "$image")
user=$("$engine" image inspect --format '{{.Config.User}}' "$image")
entry=$("$engine" image inspect --format '{{json .Config.Entrypoint}}' "$image")
echo "image $image: $size bytes ($((size / 1024 / 1024)) MiB), built in ${build_s} s; user $user; entrypoint $entry"
ldd target/image/context/rootfs/xaa-conform 2>&1 | sed 's/^/ldd: /' || true
[ "$user" = "$uid:$uid" ] || [ "$user" = "$uid" ] || fail "the image's user is '$user', not $uid"
[ "$entry" = '["/xaa-conform"]' ] || fail "the entrypoint is $entry"
crun version 30 "$image" --version || fail "--version in a container"

say "run against the embedded reference, reports to a mounted folder (must exit 0)"
user_dir "$work/run"
code=0
crun run 300 -v "$work/run:/reports" "$image" run --report-dir /reports || code=$?
[ "$code" -eq 0 ] || fail "run exited $code, not 0"
for f in results.json junit.xml report.html; do
  [ -s "$work/run/$f" ] || fail "run wrote no $f to the mounted folder"
done
ls -l "$work/run"

say "keys generate in a container, then laid out as the kubelet mounts the Secret"
user_dir "$work/keys-gen"
crun keys 60 -v "$work/keys-gen:/keys" "$image" keys generate --dir /keys
mkdir -p "$work/keys"
cp "$work"/keys-gen/*.pem "$work/keys/"
if [ "$(id -u)" -eq 0 ]; then
  stat -c '%n %a %u' "$work"/keys-gen/*.pem | sed 's#.*/#generated: #'
  for f in "$work"/keys-gen/*.pem; do
    [ "$(stat -c '%a %u' "$f")" = "600 $uid" ] || fail "$f is not 0600 owned by $uid"
  done
  # defaultMode 0440 and fsGroup 65532: root-owned, group 65532, group-readable only.
  chown -R "0:$uid" "$work/keys"
  chmod 0750 "$work/keys"
  chmod 0440 "$work"/keys/*.pem
else
  chmod 0755 "$work/keys"
  chmod 0444 "$work"/keys/*.pem
fi
stat -c '%n %a %u:%g' "$work"/keys/*.pem | sed 's#.*/#mounted: #'

# Free loopback ports: the reference, the first shard's IdP (the issuer), two more IdPs.
read -r ras_port idp0 idp1 idp2 < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PY
)
secrets=(-e XAA_CLIENT_SECRET=image-test-c1 -e XAA_CLIENT2_SECRET=image-test-c2)

say "reference serve --rate-limit $limit in a container (127.0.0.1:$ras_port, IdP 127.0.0.1:$idp0)"
ref="$prefix-ref"
started+=("$ref")
"$engine" run -d --rm --pull=never --name "$ref" --timeout 900 --network host "${confined[@]}" \
  "${secrets[@]}" \
  "$image" reference serve --bind "127.0.0.1:$ras_port" --idp-bind "127.0.0.1:$idp0" \
  --rate-limit "$limit" >/dev/null
mkdir -p "$work/config"
for _ in $(seq 1 100); do
  "$engine" logs "$ref" >"$work/config/serve.log" 2>&1 || true
  grep -q '^token_endpoint:' "$work/config/serve.log" && break
  sleep 0.2
done
grep -q '^token_endpoint:' "$work/config/serve.log" || { cat "$work/config/serve.log"; fail "reference serve printed no target.yaml"; }
sleep 0.5
"$engine" logs "$ref" 2>/dev/null >"$work/config/t0.yaml"
# The other shards bind their own IdP but name the first one's as the issuer.
python3 - "$work/config" "$idp0" "$idp1" "$idp2" <<'PY'
import re, sys
d, idp0, *others = sys.argv[1:]
t0 = open(f"{d}/t0.yaml").read()
if not re.search(r"^idp: ", t0, re.M):
    sys.exit("no idp line in the printed target.yaml")
for i, port in enumerate(others, start=1):
    line = f'idp: {{ bind: "127.0.0.1:{port}", public_url: "http://127.0.0.1:{idp0}" }}'
    open(f"{d}/t{i}.yaml", "w").write(re.sub(r"^idp: .*$", line, t0, flags=re.M))
PY
chmod 0755 "$work/config"
chmod 0644 "$work"/config/t*.yaml
cat "$work/config/t0.yaml"
grep '^idp:' "$work"/config/t*.yaml

user_dir "$work/reports"
mounts=(-v "$work/config:/config:ro" -v "$work/keys:/keys:ro" -v "$work/reports:/reports")
load_args=(--rate "$rate" --duration "$duration" --keys /keys)

say "a host name resolves in the image (the token endpoint at localhost: /etc/hosts, nsswitch)"
sed "s#^token_endpoint: \"http://127.0.0.1:#token_endpoint: \"http://localhost:#" \
  "$work/config/t0.yaml" >"$work/config/by-name.yaml"
chmod 0644 "$work/config/by-name.yaml"
grep -q '^token_endpoint: "http://localhost:' "$work/config/by-name.yaml" || fail "no token_endpoint to rename"
code=0
crun by-name 60 "${secrets[@]}" "${mounts[@]}" "$image" load --target /config/by-name.yaml \
  --keys /keys --rate 5 --requests 10 --race 0 --lane-rate 0 --report-dir /reports/by-name || code=$?
[ "$code" -eq 0 ] || fail "load against localhost exited $code"

say "one process: load --rate $rate --duration $duration against the limit of $limit/s"
code=0
crun single 300 "${secrets[@]}" "${mounts[@]}" "$image" \
  load --target /config/t0.yaml "${load_args[@]}" --report-dir /reports/single || code=$?
[ "$code" -eq 0 ] || fail "the single-process load exited $code"

say "three shards side by side: load --shard i/3"
pids=()
crun shard-0 300 "${secrets[@]}" "${mounts[@]}" "$image" load --target /config/t0.yaml \
  "${load_args[@]}" --shard 0/3 --report-dir /reports/shard-0 >"$work/shard-0.log" 2>&1 &
pids+=($!)
# The issuer is shard 0's IdP: start the others once it answers.
python3 - "$idp0" <<'PY' || fail "shard 0's IdP did not start"
import socket, sys, time
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
for i in 1 2; do
  crun "shard-$i" 300 "${secrets[@]}" "${mounts[@]}" "$image" load --target "/config/t$i.yaml" \
    "${load_args[@]}" --shard "$i/3" --report-dir "/reports/shard-$i" >"$work/shard-$i.log" 2>&1 &
  pids+=($!)
done
for i in 0 1 2; do
  code=0
  wait "${pids[$i]}" || code=$?
  sed "s/^/shard-$i: /" "$work/shard-$i.log" | tail -n 25
  [ "$code" -eq 0 ] || fail "shard $i exited $code"
done

say "load merge in a fourth container (exit 0; 2 with a shard missing; 4 on a breach)"
crun merge 60 -v "$work/reports:/reports" "$image" load merge \
  /reports/shard-0 /reports/shard-1 /reports/shard-2 --report-dir /reports/merged
code=0
crun merge-partial 60 -v "$work/reports:/reports" "$image" load merge \
  /reports/shard-0 /reports/shard-1 --report-dir /reports/partial >/dev/null 2>&1 || code=$?
[ "$code" -eq 2 ] || fail "merging 2 of 3 shards exited $code, not 2"
code=0
crun merge-breach 60 -v "$work/reports:/reports" "$image" load merge \
  /reports/shard-0 /reports/shard-1 /reports/shard-2 --report-dir /reports/breach \
  --threshold 'accepted_rps>=100000' >/dev/null 2>&1 || code=$?
[ "$code" -eq 4 ] || fail "a breached threshold exited $code, not 4"
echo "merge exit codes: 0, 2 (missing shard), 4 (breach) as promised"

say "single process against the merged shards"
python3 - "$work/reports" "$limit" <<'PY'
import json, sys
d, limit = sys.argv[1], float(sys.argv[2])
single = json.load(open(f"{d}/single/load.json"))
merged = json.load(open(f"{d}/merged/load.json"))
def figures(r):
    c = r["classes"]
    return {
        "requests": sum(c.values()),
        "sent": r["generator"]["sent"],
        "accepted": c["accepted"],
        "rate_limited": c["rate_limited"],
        "accepted_rps": r["accepted_rps"],
        # The limit as the main load saw it (a merge adds the shards' shares).
        "limit_rps": (r.get("rate_limit") or {}).get("measured_rps", 0.0),
        "achieved_rps": r["achieved_rps"],
        "p50_ms": (r["latency_us"] or {}).get("p50", 0) / 1000,
        "p99_ms": (r["latency_us"] or {}).get("p99", 0) / 1000,
    }
s, m = figures(single), figures(merged)
print(f"{'':14}{'single':>12}{'merged 3':>12}")
for k in s:
    print(f"{k:14}{s[k]:>12.1f}{m[k]:>12.1f}" if isinstance(s[k], float) else f"{k:14}{s[k]:>12}{m[k]:>12}")
bad = []
for k in ("requests", "accepted_rps", "limit_rps"):
    if abs(m[k] - s[k]) > 0.10 * s[k]:
        bad.append(f"{k}: merged {m[k]} is not within 10 % of single {s[k]}")
for name, f in (("single", s), ("merged", m)):
    if f["rate_limited"] == 0:
        bad.append(f"{name}: no 429 at all: the limit of {limit:g}/s was not reached")
    if not 0.8 * limit <= f["accepted_rps"] <= 1.3 * limit:
        bad.append(f"{name}: accepted {f['accepted_rps']:.1f}/s, far from the limit of {limit:g}/s")
shards = sorted(x.get("shard") or "" for x in merged.get("merged_from", []))
if shards != ["0/3", "1/3", "2/3"]:
    bad.append(f"the merged report is made of {shards}, not shards 0/3, 1/3, 2/3")
if bad:
    sys.exit("\n".join(bad))
print("merged within 10 % of the single process (requests, accepted rate, measured limit)")
PY

"$engine" rm -f -t 0 "$ref" >/dev/null 2>&1 || true
echo
echo "image test: passed ($image, $((size / 1024 / 1024)) MiB)"
