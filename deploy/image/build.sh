#!/usr/bin/env bash
# Builds the xaa-conform container image, tagged xaa-conform:<version of Cargo.toml>, with
# podman (or docker where a daemon answers). No base image is pulled: the Containerfile at the
# repository root starts FROM scratch and copies what this script stages in
# target/image/context (the binary, the CA bundle, /etc/passwd and /etc/group for the user
# 65532, an empty /tmp).
#
#   deploy/image/build.sh                   build the static binary, then the image
#   deploy/image/build.sh --binary PATH     use a binary already built (static, or dynamic:
#                                           then the libraries `ldd` names go in too)
#   deploy/image/build.sh --dynamic         build the ordinary dynamic binary instead
#
# Environment: XAA_IMAGE (image name, default xaa-conform), XAA_ENGINE (podman or docker;
# default podman when installed, else docker). Prints the image reference on the last line.
set -euo pipefail
cd "$(dirname "$0")/../.."

binary=""
mode=static
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --dynamic) mode=dynamic; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '[image %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

engine="${XAA_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v podman >/dev/null; then
    engine=podman
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    engine=docker
  else
    echo "build.sh: neither podman nor a docker daemon is available" >&2
    exit 3
  fi
fi

# The version of the [package] table (the first `version =` line of Cargo.toml).
version="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)"
[ -n "$version" ] || { echo "build.sh: no version in Cargo.toml" >&2; exit 3; }
image="${XAA_IMAGE:-xaa-conform}:${version}"

started=$(date +%s)
if [ -z "$binary" ]; then
  if [ "$mode" = static ]; then
    # The gnu target with a static C runtime: glibc, and aws-lc (C, built by aws-lc-sys),
    # linked in. --target keeps RUSTFLAGS off build scripts and proc macros.
    say "cargo build --release --locked --target x86_64-unknown-linux-gnu (crt-static)"
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
      cargo build --release --locked --target x86_64-unknown-linux-gnu
    binary=target/x86_64-unknown-linux-gnu/release/xaa-conform
  else
    say "cargo build --release --locked"
    cargo build --release --locked
    binary=target/release/xaa-conform
  fi
fi
[ -x "$binary" ] || { echo "build.sh: $binary is not an executable" >&2; exit 3; }
built=$(date +%s)

context=target/image/context
rm -rf "$context"
mkdir -p "$context/rootfs/etc/ssl/certs" "$context/rootfs/tmp" "$context/rootfs/home" "$context/home"
chmod 1777 "$context/rootfs/tmp"
install -m 0755 "$binary" "$context/rootfs/xaa-conform"
# No symbol table: a smaller image (panic messages keep their file and line).
if command -v strip >/dev/null; then strip "$context/rootfs/xaa-conform"; fi

# A static binary says so; a dynamic one gets exactly the libraries ldd names (and the
# loader), at the paths the binary looks for them.
ldd_out="$(ldd "$binary" 2>&1 || true)"
if grep -qE 'not a dynamic executable|statically linked' <<<"$ldd_out"; then
  say "$binary is static (ldd: $(tr -d '\t' <<<"$ldd_out" | head -n 1))"
else
  say "$binary is dynamic: adding the libraries ldd names"
  while read -r lib; do
    mkdir -p "$context/rootfs$(dirname "$lib")"
    cp -L "$lib" "$context/rootfs$lib"
    say "  $lib"
  done < <(sed -nE 's#.*=> (/[^ ]+) \(0x.*#\1#p; s#^[[:space:]]*(/[^ ]+) \(0x.*#\1#p' <<<"$ldd_out")
fi

ca=/etc/ssl/certs/ca-certificates.crt
[ -r "$ca" ] || { echo "build.sh: no CA bundle at $ca (install ca-certificates)" >&2; exit 3; }
install -m 0644 "$ca" "$context/rootfs$ca"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
  'nonroot:x:65532:65532:xaa-conform:/home/nonroot:/sbin/nologin' >"$context/rootfs/etc/passwd"
printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$context/rootfs/etc/group"
printf '%s\n' 'hosts: files dns' >"$context/rootfs/etc/nsswitch.conf"
chmod 0644 "$context/rootfs/etc/passwd" "$context/rootfs/etc/group" "$context/rootfs/etc/nsswitch.conf"

say "$engine build -t $image"
previous="$("$engine" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
layers=()
# podman keeps an image per instruction by default: one image, no cache to pile up.
[ "$(basename "$engine")" = podman ] && layers=(--layers=false)
"$engine" build --quiet "${layers[@]}" -f Containerfile --build-arg "VERSION=$version" \
  -t "$image" "$context" >&2
done_at=$(date +%s)
# The image this tag named before, now untagged (removal fails, harmlessly, if it is in use or
# still has another tag).
current="$("$engine" image inspect --format '{{.Id}}' "$image")"
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  "$engine" rmi "$previous" >/dev/null 2>&1 || true
fi

size="$("$engine" image inspect --format '{{.Size}}' "$image")"
say "built $image: $((size / 1024 / 1024)) MiB ($size bytes); binary $((built - started)) s, image $((done_at - built)) s"
echo "$image"
