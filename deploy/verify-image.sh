#!/usr/bin/env bash
# Checks an image built by build-image.sh without running a container
# (CI machines have no container runtime to spare): its settings (user,
# port, volume, health check, version label), then its filesystem,
# unpacked, runs `switchyard version` and a short `serve` that answers
# /readyz, as the non-root user's files would.
#
#   deploy/verify-image.sh TAG
set -euo pipefail
tag="$1"
engine="${CONTAINER:-podman}"
fail() { echo "verify-image: $*" >&2; exit 1; }

cfg="$("$engine" image inspect "$tag" --format '{{.Config.User}}|{{range $p, $_ := .Config.ExposedPorts}}{{$p}}{{end}}|{{range $v, $_ := .Config.Volumes}}{{$v}}{{end}}|{{.Config.Healthcheck.Test}}|{{index .Config.Labels "org.opencontainers.image.version"}}')"
IFS='|' read -r user ports volumes health label <<<"$cfg"
[ "$user" = "65532:65532" ] || fail "user is $user, want 65532:65532"
[ "$ports" = "8686/tcp" ] || fail "exposed $ports, want 8686/tcp"
[ "$volumes" = "/data" ] || fail "volumes $volumes, want /data"
[ "$health" = "[CMD /switchyard health]" ] || fail "health check $health"
[ -n "$label" ] || fail "no version label"

dir="$(mktemp -d)"
ctr="$("$engine" create "$tag")"
trap '"$engine" rm -f "$ctr" >/dev/null 2>&1 || true; pkill -f "$dir/root/switchyard" 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir "$dir/root"
"$engine" export "$ctr" | tar -x -C "$dir/root"
for f in switchyard etc/ssl/certs/ca-certificates.crt etc/passwd tmp data; do
  [ -e "$dir/root/$f" ] || fail "the image has no /$f"
done
# Outputs are read whole before they are matched: grep -q stops reading at
# its match, and with pipefail the writer's SIGPIPE would fail the check.
[[ "$(file "$dir/root/switchyard" 2>/dev/null)" == *"statically linked"* ]] || fail "the binary is not static"
[[ "$("$dir/root/switchyard" version)" == "switchyard $label"* ]] || fail "switchyard version does not say $label"

"$dir/root/switchyard" serve --data-dir "$dir/data" --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/err" &
url=""
for _ in $(seq 1 100); do
  url="$(grep -oE 'ingest: +http://[^ ]+' "$dir/out" | awk '{print $2}' || true)"
  [ -n "$url" ] && break
  sleep 0.2
done
[ -n "$url" ] || { cat "$dir/err" >&2; fail "serve did not start"; }
"$dir/root/switchyard" health --url "$url" >/dev/null || fail "the node is not ready"
size="$("$engine" image inspect "$tag" --format '{{.Size}}')"
echo "verify-image: $tag ok ($((size / 1000000)) MB): user 65532, port 8686, /data, health check; version $label; serve ready at $url"
