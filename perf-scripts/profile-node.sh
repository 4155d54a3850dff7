#!/usr/bin/env bash
# Per-request CPU breakdown of one node under perfmatrix.py's h2load shape (issue 12, docs/BENCHMARKS.md): the node
# pinned to CPU 0, 8 h2load clients x 8 streams on CPU 1 over 8 carts, Apply [AddItem(+1), ChangeQuantity(back to 1)]
# and Get of the same carts; one profile per RPC while the load runs, classified by cpu_breakdown.py.
#
#   perf-scripts/profile-node.sh NODE_DLL LABEL [MODE] [extra node args, e.g. --minimal-endpoint false]
#   MODE: memory (the default) | os | fsync | redis://host:port
#
# PROFILER picks the sampler (the two see different things; compare a figure only with one of the same sampler):
#   dotnet-trace (default)  dotnet-sampled-thread-time: managed stacks, blocked waits left out; Apply and Get.
#                           Needs dotnet-trace (dotnet tool install -g dotnet-trace).
#   perf                    perf record -F 999 -g of the node's CPU: native frames too (RocksDB, libc, kernel); Apply
#                           only, with the Applies per store write from the node's own metrics. Needs perf.
# Also needs h2load, taskset and /usr/bin/python3 with python3-grpcio (protoload.py of the yardstick, PERF_DIR, encodes
# the bodies perfmatrix.py sends). SECONDS_PROFILED (6) is each profile's length. Writes OUT/LABEL-* (OUT defaults to
# /tmp/cartactor-profile): the h2load logs, the profile and LABEL-apply.breakdown.txt (and -get).
set -euo pipefail
dll=$(realpath "$1"); label=$2; shift 2
mode=memory
case ${1:-} in memory|os|fsync|redis://*) mode=$1; shift ;; esac
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/cartactor-profile}; perf_dir=${PERF_DIR:-/work/shared/perf}
profiler=${PROFILER:-dotnet-trace}; seconds=${SECONDS_PROFILED:-6}
case $profiler in dotnet-trace|perf) ;; *) echo "PROFILER must be dotnet-trace or perf (was $profiler)" >&2; exit 2 ;; esac
case $mode in
  memory) store=(--store memory) ;;
  redis://*) store=(--store "$mode") ;;
  *) store=(--durability "$mode") ;;
esac
mkdir -p "$out"; export PATH="$PATH:$HOME/.dotnet/tools"
work=$(mktemp -d)

/usr/bin/python3 - "$perf_dir" "$here/../proto" "$work" <<'PY'
import os, struct, subprocess, sys
perf, proto_dir, work = sys.argv[1:4]
sys.path.insert(0, perf); sys.dont_write_bytecode = True
import protoload
seed = protoload.load_service_pool(); proj, _, _ = protoload.load_project_pool(proto_dir)
AnyC, Apply = seed.cls("google.protobuf.Any"), seed.cls("control_plane_messages.ApplyRequest")
add = proj.cls("cart_messages.AddItem")(sku="sku-1", name="Item", quantity=1, unit_price=1000, tax_rate=2500)
chg = proj.cls("cart_messages.ChangeQuantity")(item_id=1, quantity=1)
for i in range(1000, 1008):
    body = Apply(id=i, messages=[AnyC(type_url="type.googleapis.com/cart_messages.AddItem", value=add.SerializeToString()),
                                 AnyC(type_url="type.googleapis.com/cart_messages.ChangeQuantity", value=chg.SerializeToString())]).SerializeToString()
    open(os.path.join(work, "apply_%d.bin" % i), "wb").write(struct.pack(">BI", 0, len(body)) + body)
# Get bodies (get_<id>.bin) as perfmatrix's generator writes them; its apply_<id>.bin go elsewhere, unused.
subprocess.run([sys.executable, os.path.join(perf, "gen/gen_bodies.py"), "--out", os.path.join(work, "gen"), "--ids",
                ",".join(str(i) for i in range(1000, 1008))], check=True, stdout=subprocess.DEVNULL)
PY

free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
port=$(free_port); http=$(free_port)
# The working directory is not above the data directory: the host watches its content root for config changes.
# PerfMap and W^X off let perf name JIT-compiled frames (no effect on dotnet-trace).
(cd "$work" && DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 DOTNET_TC_DelaySingleProcMultiplier=1 exec taskset -c 0 \
  dotnet "$dll" --port "$port" --host "127.0.0.1:$port" --http-port "$http" --data-dir "$work/data" "${store[@]}" "$@" \
  > "$out/$label-node.log" 2>&1) &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$work"' EXIT
sleep 6

clients=()
load() {  # RPC SECONDS: 8 h2load clients in the background, one per cart
  clients=()
  local body
  for i in $(seq 1000 1007); do
    if [ "$1" = Apply ]; then body="$work/apply_$i.bin"; else body="$work/gen/get_$i.bin"; fi
    taskset -c 1 h2load -D "$2" --warm-up-time 1 -t1 -c1 -m8 -d "$body" -H 'content-type: application/grpc' -H 'te: trailers' \
      "http://127.0.0.1:$port/control_plane_messages.ControlPlane/$1" > "$out/$label-${1,,}-h2load-$i.log" 2>&1 &
    clients+=($!)
  done
}
applies_and_writes() {
  curl -s "127.0.0.1:$http/metrics" | awk '/^cartactor_mutations_total\{result="applied",type="AddItem"\}/ {a=$2}
    /^cartactor_store_write_batch_carts_count/ {w=$2} END {printf "%d %d\n", a, w}'
}

rpcs=(Apply Get); [ "$profiler" = perf ] && rpcs=(Apply)
for rpc in "${rpcs[@]}"; do
  lower=${rpc,,}
  load "$rpc" 20; wait "${clients[@]}"   # tiered compilation settles
  read -r a0 w0 < <(applies_and_writes)
  load "$rpc" $((seconds + 6)); sleep 3
  if [ "$profiler" = perf ]; then
    perf record -F 999 -g -p "$node" -o "$work/perf.data" -- sleep "$seconds" > /dev/null 2>&1
    wait "${clients[@]}"
    perf script -i "$work/perf.data" -F comm,tid,ip,sym,dso 2>/dev/null > "$out/$label-$lower.perf-script.txt"
    profile="$out/$label-$lower.perf-script.txt"
  else
    dotnet-trace collect -p "$node" --profile dotnet-sampled-thread-time --duration "$(printf '00:00:00:%02d' "$seconds")" -o "$out/$label-$lower.nettrace" > /dev/null 2>&1
    wait "${clients[@]}"
    dotnet-trace convert "$out/$label-$lower.nettrace" --format Speedscope -o "$out/$label-$lower.speedscope.json" > /dev/null 2>&1
    profile="$out/$label-$lower.speedscope.speedscope.json"
  fi
  awk '/finished in/ {gsub(",", "", $4); s += $4} END {printf "'"$rpc"' under the profile ('"$mode"', '"$profiler"'): %.0f req/s (8 clients)\n", s}' "$out/$label-$lower"-h2load-*.log
  if [ "$rpc" = Apply ] && [ "$mode" != memory ]; then
    read -r a1 w1 < <(applies_and_writes)
    awk -v a=$((a1 - a0)) -v w=$((w1 - w0)) 'BEGIN { printf "Applies per store write: %s (%d Applies, %d writes)\n", (w > 0 ? sprintf("%.1f", a / w) : "-"), a, w }'
  fi
  /usr/bin/python3 "$here/cpu_breakdown.py" "$profile" | tee "$out/$label-$lower.breakdown.txt"
done
