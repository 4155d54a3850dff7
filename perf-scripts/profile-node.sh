#!/bin/bash
# CPU breakdown of a node under perfmatrix.py's h2load shape (issue 12): node pinned to CPU 0, 8 h2load clients
# x 8 streams on CPU 1, a 6 s dotnet-trace sample (dotnet-sampled-thread-time) per RPC, then profile_breakdown.py.
#   perf-scripts/profile-node.sh NODE_DLL LABEL [extra node args, e.g. --minimal-endpoint false]
# Needs: dotnet-trace (dotnet tool install -g dotnet-trace), h2load, taskset, /usr/bin/python3 with Debian's
# python3-grpcio (for /work/shared/perf/protoload.py, which encodes the same bodies perfmatrix.py sends).
# Writes OUT/LABEL-{apply,get}.nettrace, .speedscope.json and .breakdown.txt (OUT defaults to /tmp/cartactor-profile).
set -eu
DLL=$1; LABEL=$2; shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/cartactor-profile}; PERF=${PERF:-/work/shared/perf}
mkdir -p "$OUT"; export PATH="$PATH:$HOME/.dotnet/tools"
/usr/bin/python3 - "$OUT" "$HERE/../proto" "$PERF" <<'PY'
import os, sys, struct, subprocess
out, proto_dir, perf = sys.argv[1:4]
sys.path.insert(0, perf); sys.dont_write_bytecode = True
import protoload
seed = protoload.load_service_pool(); proj, _, _ = protoload.load_project_pool(proto_dir)
AnyC = seed.cls("google.protobuf.Any"); Apply = seed.cls("control_plane_messages.ApplyRequest")
add = proj.cls("cart_messages.AddItem")(sku="sku-1", name="Item", quantity=1, unit_price=1000, tax_rate=2500)
chg = proj.cls("cart_messages.ChangeQuantity")(item_id=1, quantity=1)
for i in range(1000, 1008):
    req = Apply(id=i, messages=[AnyC(type_url="type.googleapis.com/cart_messages.AddItem", value=add.SerializeToString()),
                                AnyC(type_url="type.googleapis.com/cart_messages.ChangeQuantity", value=chg.SerializeToString())])
    b = req.SerializeToString(); open(os.path.join(out, "apply_%d.bin" % i), "wb").write(struct.pack(">BI", 0, len(b)) + b)
subprocess.run([sys.executable, os.path.join(perf, "gen/gen_bodies.py"), "--out", os.path.join(out, "gen"), "--ids",
                ",".join(str(i) for i in range(1000, 1008))], check=True, stdout=subprocess.DEVNULL)
PY
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port); HPORT=$(free_port)
DOTNET_TC_DelaySingleProcMultiplier=1 taskset -c 0 dotnet "$DLL" --port "$PORT" --host "127.0.0.1:$PORT" --http-port "$HPORT" \
  --data-dir "$(mktemp -d)" --store memory "$@" > "$OUT/$LABEL-node.log" 2>&1 &
NODE=$!
trap 'kill $NODE 2>/dev/null' EXIT
sleep 4
for rpc in Apply Get; do
  lower=$(echo $rpc | tr A-Z a-z)
  load() {
    pids=""
    for i in $(seq 1000 1007); do
      if [ $rpc = Apply ]; then body="$OUT/apply_$i.bin"; else body="$OUT/gen/get_$i.bin"; fi
      taskset -c 1 h2load -D "$1" --warm-up-time 1 -t1 -c1 -m8 -d "$body" -H "content-type: application/grpc" -H "te: trailers" \
        "http://127.0.0.1:$PORT/control_plane_messages.ControlPlane/$rpc" > "$OUT/$LABEL-$lower-h2load-$i.log" 2>&1 &
      pids="$pids $!"
    done
  }
  load 4; wait $pids
  load 12; sleep 3
  dotnet-trace collect -p $NODE --profile dotnet-sampled-thread-time --duration 00:00:00:06 -o "$OUT/$LABEL-$lower.nettrace" > /dev/null 2>&1
  wait $pids
  awk '/finished in/ {gsub(",", "", $4); s += $4} END {printf "'$rpc' under trace: %.0f req/s (8 clients)\n", s}' "$OUT"/$LABEL-$lower-h2load-*.log
  dotnet-trace convert "$OUT/$LABEL-$lower.nettrace" --format Speedscope -o "$OUT/$LABEL-$lower.speedscope.json" > /dev/null 2>&1
  /usr/bin/python3 "$HERE/profile_breakdown.py" "$OUT/$LABEL-$lower.speedscope.speedscope.json" | tee "$OUT/$LABEL-$lower.breakdown.txt"
done
