#!/usr/bin/env bash
# Starts a local cluster of N nodes (default 3) on loopback: gRPC ports 1337.., HTTP ports 8080..
# Node 1 is the seed of the others. Logs go to ./cluster-logs/node-K.log; Ctrl-C stops them all
# gracefully (SIGTERM), which also exercises Closing and handoff.
#   perf-scripts/local-cluster.sh [nodes] [first-grpc-port] [first-http-port]
# Extra node flags go in NODE_ARGS, e.g. NODE_ARGS="--store memory" or "--durability os".
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-3}
grpc0=${2:-1337}
http0=${3:-8080}
mkdir -p cluster-logs
dotnet build -c Release src/CartActor.Node -v q -nologo >/dev/null
bin=src/CartActor.Node/bin/Release/net10.0/CartActor.Node.dll
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM EXIT
for i in $(seq 0 $((nodes - 1))); do
  port=$((grpc0 + i)); http=$((http0 + i))
  seeds=""
  [ "$i" -gt 0 ] && seeds="--seeds 127.0.0.1:${grpc0}"
  # shellcheck disable=SC2086
  dotnet "$bin" --port "$port" --http-port "$http" --host "127.0.0.1:${port}" --data-dir "cluster-logs/data-$i" $seeds ${NODE_ARGS:-} \
    >"cluster-logs/node-$((i + 1)).log" 2>&1 &
  pids+=($!)
  echo "node $((i + 1)): grpc 127.0.0.1:${port}  http 127.0.0.1:${http}  pid $!"
done
echo "waiting for readiness..."
for i in $(seq 0 $((nodes - 1))); do
  until curl -sf "http://127.0.0.1:$((http0 + i))/readyz" >/dev/null; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "node $((i + 1)) exited:" >&2; tail -3 "cluster-logs/node-$((i + 1)).log" >&2; exit 1
    fi
    sleep 0.2
  done
done
echo "cluster ready; Ctrl-C to stop"
wait
