# Typed CartService (Mutate, GetCart) beside ControlPlane (Apply, Get) on one node (--store memory), in the shape of
# ../shared/perf/perfmatrix.py: node on CPU 0, 8 h2load x -c1 -m8 on CPU 1, 8 carts, the same two changes per request
# (AddItem + ChangeQuantity), 3 interleaved rounds of 6 s, medians. Needs what perfmatrix needs (h2load, python3-grpcio).
# Usage: /usr/bin/python3 perf-scripts/typed_vs_controlplane.py src/CartActor.Node/bin/Release/net10.0/CartActor.Node.dll proto
import os, re, socket, struct, subprocess, sys, tempfile, time
sys.path.insert(0, os.environ.get("PERF_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "perf")))
import protoload
dll = sys.argv[1]; proto_dir = sys.argv[2]; rounds = 3; seconds = 6
def frame(b): return b"\x00" + struct.pack(">I", len(b)) + b
def varint(n):
    out = b""
    while True:
        b = n & 0x7F; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])
def field_bytes(num, payload): return varint((num << 3) | 2) + varint(len(payload)) + payload
def field_varint(num, v): return varint(num << 3) + varint(v)
seed = protoload.load_service_pool()
proj, cart_files, errs = protoload.load_project_pool(proto_dir)
AnyC = seed.cls("google.protobuf.Any"); Apply = seed.cls("control_plane_messages.ApplyRequest"); Get = seed.cls("control_plane_messages.GetRequest")
add = proj.cls("cart_messages.AddItem")(sku="sku-1", name="Item", quantity=1, unit_price=1000, tax_rate=2500).SerializeToString()
chg = proj.cls("cart_messages.ChangeQuantity")(item_id=1, quantity=1).SerializeToString()
work = tempfile.mkdtemp(); bodies = {"Apply": [], "Mutate": [], "Get": [], "GetCart": []}
for i in range(8):
    a, m = 1000 + i, 3000 + i
    def w(kind, data):
        p = os.path.join(work, "%s_%d.bin" % (kind, i)); open(p, "wb").write(frame(data)); bodies[kind].append(p)
    w("Apply", Apply(id=a, messages=[AnyC(type_url="type.googleapis.com/cart_messages.AddItem", value=add),
                                     AnyC(type_url="type.googleapis.com/cart_messages.ChangeQuantity", value=chg)]).SerializeToString())
    w("Mutate", field_varint(1, m) + field_bytes(2, field_bytes(1, add)) + field_bytes(2, field_bytes(2, chg)))
    w("Get", Get(id=a).SerializeToString())
    w("GetCart", field_varint(1, m))
paths = {"Apply": "control_plane_messages.ControlPlane/Apply", "Get": "control_plane_messages.ControlPlane/Get",
         "Mutate": "cartactor.cart.v1.CartService/Mutate", "GetCart": "cartactor.cart.v1.CartService/GetCart"}
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
port = free()
node = subprocess.Popen(["taskset", "-c", "0", "dotnet", dll, "--port", str(port), "--host", "127.0.0.1:%d" % port,
                         "--http-port", str(free()), "--data-dir", tempfile.mkdtemp(), "--store", "memory"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, DOTNET_TC_DelaySingleProcMultiplier="1"))
def run(kind, secs):
    procs = [subprocess.Popen(["taskset", "-c", "1", "h2load", "-D", str(secs), "--warm-up-time", "1", "-t1", "-c1", "-m8", "-d", b,
                               "-H", "content-type: application/grpc", "-H", "te: trailers", "http://127.0.0.1:%d/%s" % (port, paths[kind])],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for b in bodies[kind]]
    total, bad = 0.0, 0
    for p in procs:
        out = p.communicate()[0]
        m = re.search(r"finished in [^,]+, ([\d.]+) req/s", out); total += float(m.group(1)) if m else 0
        m2 = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        if m2: bad += int(m2.group(3)) + int(m2.group(4))
    return total, bad
try:
    time.sleep(6)
    for k in paths: run(k, 4)
    res = {k: [] for k in paths}
    for r in range(rounds):
        for k in ("Apply", "Mutate", "Get", "GetCart"):
            t, bad = run(k, seconds); res[k].append(t); print("round %d %-8s %8.0f req/s non-2xx %d" % (r + 1, k, t, bad), flush=True)
    med = {k: sorted(v)[len(v) // 2] for k, v in res.items()}
    print("median: Apply %.0f, Mutate %.0f (Mutate/Apply %.2f); Get %.0f, GetCart %.0f (GetCart/Get %.2f)" %
          (med["Apply"], med["Mutate"], med["Mutate"] / med["Apply"], med["Get"], med["GetCart"], med["GetCart"] / med["Get"]))
finally:
    node.kill()
