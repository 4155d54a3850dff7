#!/usr/bin/env bash
# Profiles one node under the perfmatrix load shape (node pinned to CPU 0, 8 h2load clients x 8 streams on
# CPU 1, Apply [AddItem(+1), ChangeQuantity(back to 1)] over 8 carts) and prints Applies per store write and the
# per-request CPU breakdown (cpu_breakdown.py). Needs perf, h2load, taskset, /usr/bin/python3 with python3-grpcio
# and python3-grpc-tools (to build the bodies with protoload.py of the performance yardstick, ../shared/perf beside
# the repository; SHARED_PERF=DIR names another place).
#
#   perf-scripts/write-through-profile.sh NODE_DLL MODE [SECONDS]
#   MODE: memory | os | fsync | redis://host:port
set -euo pipefail
dll=$(realpath "$1"); mode=$2; seconds=${3:-8}
here=$(cd "$(dirname "$0")" && pwd); shared=${SHARED_PERF:-$here/../../shared/perf}
work=$(mktemp -d); port=$((20000 + RANDOM % 20000)); http=$((port + 1))
case $mode in
  memory) extra=(--store memory) ;;
  redis://*) extra=(--store "$mode") ;;
  *) extra=(--durability "$mode") ;;
esac
/usr/bin/python3 - "$shared" "$here/../proto" "$work" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1]); sys.dont_write_bytecode = True
import protoload
seed = protoload.load_service_pool(); proj, _, _ = protoload.load_project_pool(sys.argv[2])
Any, Apply = seed.cls("google.protobuf.Any"), seed.cls("control_plane_messages.ApplyRequest")
add = proj.cls("cart_messages.AddItem")(sku="sku-1", name="Item", quantity=1, unit_price=1000, tax_rate=2500)
chg = proj.cls("cart_messages.ChangeQuantity")(item_id=1, quantity=1)
for i in range(1000, 1008):
    body = Apply(id=i, messages=[Any(type_url="type.googleapis.com/cart_messages.AddItem", value=add.SerializeToString()),
                                 Any(type_url="type.googleapis.com/cart_messages.ChangeQuantity", value=chg.SerializeToString())]).SerializeToString()
    open("%s/apply_%d.bin" % (sys.argv[3], i), "wb").write(b"\0" + struct.pack(">I", len(body)) + body)
PY
load() {  # seconds -> total req/s
  local clients=()
  for i in $(seq 1000 1007); do
    taskset -c 1 h2load -D "$1" --warm-up-time 1 -t1 -c1 -m8 -d "$work/apply_$i.bin" -H 'content-type: application/grpc' \
      -H 'te: trailers' "http://127.0.0.1:$port/control_plane_messages.ControlPlane/Apply" > "$work/h2_$i.out" 2>&1 &
    clients+=($!)
  done
  wait "${clients[@]}"
  grep -h "finished in" "$work"/h2_*.out | sed -E 's/.* ([0-9.]+) req\/s.*/\1/' | paste -sd+ | bc
}
applies_and_writes() {
  curl -s "127.0.0.1:$http/metrics" | awk '/^cartactor_mutations_total\{result="applied",type="AddItem"\}/ {a=$2}
    /^cartactor_store_write_batch_carts_count/ {w=$2} END {printf "%d %d\n", a, w}'
}
# The working directory is not above the data directory: the host watches its content root for config changes.
(cd "$work" && DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 DOTNET_TC_DelaySingleProcMultiplier=1 exec taskset -c 0 \
  dotnet "$dll" --port $port --host 127.0.0.1:$port --http-port $http --data-dir "$work/data" "${extra[@]}" > "$work/node.log" 2>&1) &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$work"' EXIT
sleep 8
load 20 > /dev/null   # tiered compilation settles
read -r a0 w0 < <(applies_and_writes)
load $((seconds + 4)) > "$work/rate" &
loader=$!
sleep 2
perf record -F 999 -g -p $node -o "$work/perf.data" -- sleep "$seconds" > /dev/null 2>&1
wait $loader
read -r a1 w1 < <(applies_and_writes)
per=$(awk -v a=$((a1 - a0)) -v w=$((w1 - w0)) 'BEGIN { if (w > 0) printf "%.1f", a / w; else print "-" }')
echo "mode $mode: $(cat "$work/rate") Apply/s during the profile; Applies per store write: $per ($((a1 - a0)) Applies, $((w1 - w0)) writes)"
perf script -i "$work/perf.data" -F comm,tid,ip,sym,dso 2>/dev/null > "$work/node.script"
python3 "$here/cpu_breakdown.py" "$work/node.script"
