#!/usr/bin/env bash
# Drives a running node's Apply or Get with h2load (Debian: nghttp2-client) using pre-encoded gRPC
# frames, one h2load client per cart id, all in parallel; prints requests/s and latency per client and
# in total, and checks that the replies carry no mutation errors and that no call failed.
#   perf-scripts/h2load.sh [apply|get] [requests-per-cart] [carts] [streams-per-cart] [host:port] [http-port]
set -euo pipefail
rpc=${1:-apply}; n=${2:-20000}; carts=${3:-8}; streams=${4:-8}; target=${5:-127.0.0.1:1337}; http=${6:-8080}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
command -v h2load >/dev/null || { echo "h2load not found: apt-get install nghttp2-client" >&2; exit 2; }
method=Apply; [ "$rpc" = get ] && method=Get
url="http://${target}/control_plane_messages.ControlPlane/${method}"
# Per-status call counts of this RPC from the node's /metrics: every call of the run must end OK.
metric() { curl -s "http://${target%:*}:${http}/metrics" | awk -v rpc="$method" 'index($0, "cartactor_requests_total{") == 1 && index($0, "rpc=\"" rpc "\"") { split($0, a, "status=\""); split(a[2], b, "\""); s[b[1]] += $NF } END { for (k in s) printf "%s=%d ", k, s[k] }'; }

for c in $(seq 1 "$carts"); do
  id=$((${CART_BASE:-900000} + c))
  python3 "$here/grpc_frames.py" "$rpc" "$id" "$work/body-$c.bin"
  if [ "$rpc" = apply ]; then
    # One checked call first: the batch must apply cleanly, or the load would measure validation errors.
    curl -s --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' \
      --data-binary @"$work/body-$c.bin" -o "$work/reply-$c.bin" "$url"
    python3 "$here/grpc_frames.py" check-apply "$work/reply-$c.bin"
  fi
done

# Mutations the node refused (any type): must not grow over the run, or the load measured validation
# errors instead of carts.
refused() { curl -s "http://${target%:*}:${http}/metrics" | awk 'index($0, "cartactor_mutations_total{") == 1 && index($0, "result=\"refused\"") { s += $NF } END { printf "%d", s }'; }

echo "metrics before: $(metric)"
refused_before=$(refused)
start=$(date +%s.%N)
for c in $(seq 1 "$carts"); do
  h2load -n "$n" -c 1 -m "$streams" -H 'content-type: application/grpc' -H 'te: trailers' \
    -d "$work/body-$c.bin" "$url" >"$work/h2load-$c.txt" 2>&1 &
done
wait
end=$(date +%s.%N)
echo "metrics after:  $(metric)"
refused_after=$(refused)
total=$((n * carts))
grep -h -E "^finished in|^requests:|^time for request:" "$work"/h2load-1.txt
awk -v total="$total" -v s="$start" -v e="$end" -v rpc="$rpc" -v carts="$carts" -v streams="$streams" \
  'BEGIN { printf "TOTAL %s: %d requests over %d carts x %d streams: %.0f req/s (wall %.2f s)\n", rpc, total, carts, streams, total / (e - s), e - s }'
if [ "$rpc" = apply ]; then
  curl -s --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' \
    --data-binary @"$work/body-1.bin" -o "$work/reply-last.bin" "$url"
  python3 "$here/grpc_frames.py" check-apply "$work/reply-last.bin" && echo "last reply: no mutation errors"
fi
if [ "$refused_after" != "$refused_before" ]; then
  echo "FAIL: the node refused $((refused_after - refused_before)) mutations during the run (cartactor_mutations_total{result=\"refused\"})" >&2
  exit 1
fi
echo "refused mutations during the run: 0 (cartactor_mutations_total{result=\"refused\"} unchanged)"
