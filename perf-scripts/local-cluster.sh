#!/usr/bin/env bash
# Starts a local cluster of N nodes (default 3) on loopback: gRPC ports 1337.., HTTP ports 8080..
# Node 1 is the seed of the others. A cluster needs a shared store: unless NODE_ARGS names one
# (--store redis://... or --store memory), a redis-server is started on port REDIS_PORT (default 6390) in
# ./cluster-logs and stopped with the nodes. Logs go to ./cluster-logs/node-K.log; Ctrl-C stops them all
# gracefully (SIGTERM), which also exercises the drain (DrainDelay, Closing, forwarding until idle).
#   perf-scripts/local-cluster.sh [nodes] [first-grpc-port] [first-http-port]
# Extra node flags go in NODE_ARGS, e.g. NODE_ARGS="--store memory" or "--Node:DrainDelay 1s".
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
store=""
case " ${NODE_ARGS:-} " in
  *" --store "*) ;;
  *)
    redis_port=${REDIS_PORT:-6390}
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir cluster-logs \
      >cluster-logs/redis.log 2>&1 &
    pids+=($!)
    until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
    store="--store redis://127.0.0.1:${redis_port}"
    echo "redis: 127.0.0.1:${redis_port}  pid $!"
    ;;
esac
for i in $(seq 0 $((nodes - 1))); do
  port=$((grpc0 + i)); http=$((http0 + i))
  seeds=""
  [ "$i" -gt 0 ] && seeds="--seeds 127.0.0.1:${grpc0}"
  # shellcheck disable=SC2086
  dotnet "$bin" --port "$port" --http-port "$http" --host "127.0.0.1:${port}" --data-dir "cluster-logs/data-$i" $seeds $store ${NODE_ARGS:-} \
    >"cluster-logs/node-$((i + 1)).log" 2>&1 &
  pids+=($!)
  echo "node $((i + 1)): grpc 127.0.0.1:${port}  http 127.0.0.1:${http}  pid $!"
done
echo "waiting for readiness..."
first=$(( ${#pids[@]} - nodes ))
for i in $(seq 0 $((nodes - 1))); do
  until curl -sf "http://127.0.0.1:$((http0 + i))/readyz" >/dev/null; do
    if ! kill -0 "${pids[$((first + i))]}" 2>/dev/null; then
      echo "node $((i + 1)) exited:" >&2; tail -3 "cluster-logs/node-$((i + 1)).log" >&2; exit 1
    fi
    sleep 0.2
  done
done
echo "cluster ready; Ctrl-C to stop"
wait
