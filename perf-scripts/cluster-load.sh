#!/usr/bin/env bash
# Runs Apply load across a local cluster (see local-cluster.sh): one h2load.sh run per node, in parallel,
# each on its own carts, so every node both serves its own carts and forwards to its peers.
#   perf-scripts/cluster-load.sh [nodes] [requests-per-cart] [carts-per-node] [streams] [first-grpc-port] [first-http-port]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
nodes=${1:-3}; n=${2:-5000}; carts=${3:-8}; streams=${4:-4}; grpc0=${5:-1337}; http0=${6:-8080}
for i in $(seq 0 $((nodes - 1))); do
  CART_BASE=$((1000000 * (i + 1))) "$here/h2load.sh" apply "$n" "$carts" "$streams" "127.0.0.1:$((grpc0 + i))" "$((http0 + i))" \
    >"/tmp/cluster-load-$i.txt" 2>&1 &
done
wait
status=0
for i in $(seq 0 $((nodes - 1))); do
  echo "== entry node $((i + 1)) (127.0.0.1:$((grpc0 + i)))"
  grep -E "^TOTAL|metrics after|mutation error|refused mutations|FAIL" "/tmp/cluster-load-$i.txt" || status=1
  grep -q "refused mutations during the run: 0" "/tmp/cluster-load-$i.txt" || status=1
done
# Each entry node's clients ran over the same wall time, so their rates add up. A mutation is refused on
# its owner, so every node's refused-mutation check above covers the whole cluster's traffic of that window.
awk '/^TOTAL apply/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "req/s") s += $i } END { printf "CLUSTER: %.0f Apply/s through all entry nodes\n", s }' $(seq -f '/tmp/cluster-load-%g.txt' 0 $((nodes - 1)))
exit $status
