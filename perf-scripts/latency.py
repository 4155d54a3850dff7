#!/usr/bin/env python3
"""Per-request latency percentiles (p50/p90/p99/max) of Apply and Get at 64 streams, per node mode (issue 12:
"p99 at 64 streams <= 2 x p50"), beside the echo ceiling and between node builds in one interleaved run.

  latency.py --node-dll PATH | --variant NAME=DLL[|ENV=VALUE...] (repeatable)
             [--echo] [--orleans] [--modes memory,os,fsync,redis] [--rpc apply,get]
             [--seconds 6] [--warm 8] [--rounds 1] [--per-cart] [--spread]

The shape of ../shared/perf/perfmatrix.py: every server pinned to CPU 0 with taskset, 8 h2load clients pinned to
CPU 1, each one connection with 8 streams on its own cart (64 calls in flight), the same Apply body (AddItem +1,
ChangeQuantity back to 1: valid for ever) and GetRequest on the same carts. perfmatrix reports means; this
asks h2load for every request's time (--log-file) and ranks them. Each mode gets its own node per variant (and,
for redis, a redis-server per variant on CPU 1, appendonly everysec, as perfmatrix starts it); a warm-up run
(not recorded) comes before the measured rounds of each server and RPC, and every round measures the servers
one after another, so all of them see the same machine. --echo adds the echo ceiling (perfmatrix's anchor and
bodies, built into its cache folder), --orleans the Orleans peer: the same client shape against a server that is
not ours says how much of the tail the shape itself makes. Frames come from grpc_frames.py; the anchors need
/usr/bin/python3 with python3-grpcio (perfmatrix's helpers), the node alone needs no protobuf library.

Checks: h2load logs HTTP status only, and a gRPC error is HTTP 200 with a grpc-status trailer, so the node's own
per-status call counts (cartactor_requests_total on /metrics) are read before and after each run; the run's
line says how many calls did not end OK (the percentiles are not worth reading if any did; "-" for an anchor).

--per-cart prints each client's (one cart's) p50/p99 under the run's line: a crowded mailbox shard shows as its
carts' p99. --spread says whether the slow requests (above the run's p99) came together: the share of them that
started within a millisecond of slow requests of at least 6 of the 8 clients (a server-wide stall: a GC pause,
a thread-pool queue) against those that were slow alone (one client's or one cart's).

Needs: h2load (Debian nghttp2-client), taskset, dotnet, redis-server for the redis mode. Build the node first
(dotnet build -c Release src/CartActor.Node).
"""
import argparse, collections, glob, os, socket, statistics, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PERF = os.environ.get("PERF_DIR", "/work/shared/perf")
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import grpc_frames  # noqa: E402

CARTS = [1000 + i for i in range(8)]
ANCHOR_CARTS = [2000 + i for i in range(8)]
PATHS = {"apply": "control_plane_messages.ControlPlane/Apply", "get": "control_plane_messages.ControlPlane/Get"}
ANCHORS = {"echo": "echo.dll", "orleans": "orleans-node.dll"}


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_ready(http_port, proc, secs=90):
    deadline = time.time() + secs
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % http_port, timeout=2) as r:
                if r.status == 200:
                    return True
        except Exception:
            pass
        time.sleep(0.5)
    return False


def calls_by_status(http_port, rpc):
    """The node's cumulative call counts of one RPC by gRPC status (cartactor_requests_total)."""
    counts = {}
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_port, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if not line.startswith("cartactor_requests_total{") or 'rpc="%s"' % rpc.capitalize() not in line:
                continue
            status = line.split('status="', 1)[1].split('"', 1)[0] if 'status="' in line else "?"
            counts[status] = counts.get(status, 0) + float(line.rsplit(" ", 1)[1])
    return counts


def h2load(port, bodies, seconds, rpc, log_dir=None):
    procs = []
    for i, body in enumerate(bodies):
        cmd = ["taskset", "-c", "1", "h2load", "-D", str(seconds), "-t1", "-c1", "-m8", "-d", body,
               "-H", "content-type: application/grpc", "-H", "te: trailers"]
        if log_dir:
            cmd += ["--log-file", os.path.join(log_dir, "%s_%d.tsv" % (rpc, i))]
        procs.append(subprocess.Popen(cmd + ["http://127.0.0.1:%d/%s" % (port, PATHS[rpc])],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for p in procs:
        p.communicate()


def read_log(log_dir, rpc):
    """Per client: (start us, duration us) of every request that got HTTP 200; and how many streams failed or got another status."""
    clients, failed = {}, 0
    for path in glob.glob(os.path.join(log_dir, "%s_*.tsv" % rpc)):
        client = int(path.rsplit("_", 1)[1].split(".")[0])
        rows = clients.setdefault(client, [])
        for line in open(path):
            cols = line.split("\t")
            if len(cols) < 3:
                continue
            if cols[1] == "200":
                rows.append((int(cols[0]), int(cols[2])))
            else:
                failed += 1
    return clients, failed


def percentile(sorted_values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def spread(clients, threshold):
    """Share of the requests slower than threshold that started within a millisecond of slow ones of at least 6 of the 8 clients."""
    slow_by_ms = collections.defaultdict(set)
    slow = []
    for client, rows in clients.items():
        for start, took in rows:
            if took > threshold:
                slow.append((client, start // 1000))
                slow_by_ms[start // 1000].add(client)
    if not slow:
        return 0.0
    together = sum(1 for client, ms in slow
                   if len(slow_by_ms[ms - 1] | slow_by_ms[ms] | slow_by_ms[ms + 1]) >= 6)
    return together / len(slow)


class Server:
    """One server under test: a node variant in one mode, or an anchor (echo, orleans) reached with its own bodies."""

    def __init__(self, name, cmd, env, anchor, http=None, redis=None):
        self.name, self.anchor, self.http, self.redis = name, anchor, http, redis
        self.port = int(cmd[cmd.index("--port") + 1]) if "--port" in cmd else int(cmd[-1])
        self.proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def ready(self, perfmatrix):
        return perfmatrix.wait_ping(self.port, 90) if self.anchor else wait_ready(self.http, self.proc)

    def stop(self):
        for p in (self.proc, self.redis):
            if p is not None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


def start_node(name, dll, extra_env, mode):
    port, http = free_port(), free_port()
    redis = None
    if mode == "redis":
        redis_port = free_port()
        redis = subprocess.Popen(["taskset", "-c", "1", "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                                  "--dir", tempfile.mkdtemp()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    extra = (["--store", "memory"] if mode == "memory" else
             ["--store", "redis://127.0.0.1:%d" % redis_port] if mode == "redis" else ["--durability", mode])
    cmd = ["dotnet", dll, "--port", str(port), "--host", "127.0.0.1:%d" % port,
           "--http-port", str(http), "--data-dir", tempfile.mkdtemp()] + extra
    env = dict(os.environ, DOTNET_TC_DelaySingleProcMultiplier="1", **extra_env)
    return Server(name, cmd, env, anchor=False, http=http, redis=redis)


def start_anchor(perfmatrix, name):
    port = free_port()
    env = dict(os.environ, DOTNET_TC_DelaySingleProcMultiplier="1")
    if name == "orleans":
        env.update(ORLEANS_PERSIST="1", ORLEANS_SILO_PORT=str(free_port()), ORLEANS_GATEWAY_PORT=str(free_port()))
    return Server(name, ["dotnet", perfmatrix.build_anchor(name, ANCHORS[name]), str(port)], env, anchor=True)


def write_bodies(work, anchors):
    bodies = {"node": {"apply": [], "get": []}, "anchor": {"apply": [], "get": []}}
    for cart in CARTS:
        for rpc, message in (("apply", grpc_frames.apply_request(cart)), ("get", grpc_frames.get_request(cart))):
            path = os.path.join(work, "%s_%d.bin" % (rpc, cart))
            open(path, "wb").write(grpc_frames.frame(message))
            bodies["node"][rpc].append(path)
    if anchors:
        # perfmatrix's anchor bodies: one AddItem per Apply on carts of their own.
        subprocess.run([sys.executable, os.path.join(PERF, "gen/gen_bodies.py"), "--out", work,
                        "--ids", ",".join(str(i) for i in ANCHOR_CARTS)], check=True, stdout=subprocess.DEVNULL)
        for rpc in ("apply", "get"):
            bodies["anchor"][rpc] = [os.path.join(work, "%s_%d.bin" % (rpc, i)) for i in ANCHOR_CARTS]
    return bodies


def measure(server, bodies, rpc, seconds, work):
    """One recorded h2load run: (line fields, per-client rows)."""
    log_dir = tempfile.mkdtemp(dir=work)
    before = None if server.anchor else calls_by_status(server.http, rpc)
    h2load(server.port, bodies, seconds, rpc, log_dir)
    not_ok = "-"
    if before is not None:
        after = calls_by_status(server.http, rpc)
        not_ok = sum(v - before.get(s, 0) for s, v in after.items() if s != "OK")
    clients, failed = read_log(log_dir, rpc)
    if not_ok != "-":
        not_ok = "%d" % (not_ok + failed)
    elif failed:
        not_ok = "%d" % failed
    return clients, not_ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--node-dll", help="one node build (the same as --variant node=DLL)")
    ap.add_argument("--variant", action="append", default=[], help="NAME=DLL[|ENV=VALUE...]: a node build with extra environment")
    ap.add_argument("--echo", action="store_true", help="measure the echo ceiling beside the nodes")
    ap.add_argument("--orleans", action="store_true", help="measure the Orleans peer beside the nodes")
    ap.add_argument("--modes", default="memory,os,fsync,redis")
    ap.add_argument("--rpc", default="apply,get")
    ap.add_argument("--seconds", type=int, default=6, help="measured h2load seconds per server, rpc and round")
    ap.add_argument("--warm", type=int, default=8, help="unrecorded h2load seconds before the rounds (perfmatrix's default)")
    ap.add_argument("--rounds", type=int, default=1, help="measured runs per server, mode and rpc (each reported)")
    ap.add_argument("--per-cart", action="store_true", help="print each cart's (client's) p50 and p99")
    ap.add_argument("--spread", action="store_true", help="print the share of slow requests that were slow together")
    a = ap.parse_args()

    variants = {}
    if a.node_dll:
        variants["node"] = (a.node_dll, {})
    for spec in a.variant:
        name, rest = spec.split("=", 1)
        dll, *env = rest.split("|")
        variants[name] = (dll, dict(e.split("=", 1) for e in env))
    if not variants:
        ap.error("give --node-dll or at least one --variant")
    anchor_names = [n for n in ("echo", "orleans") if getattr(a, n)]
    perfmatrix = None
    if anchor_names:
        sys.path.insert(0, PERF)
        import perfmatrix  # noqa: E402  (needs python3-grpcio: /usr/bin/python3)

    work = tempfile.mkdtemp(prefix="latency-")
    bodies = write_bodies(work, anchor_names)
    rpcs = a.rpc.split(",")
    rows = []
    print("server     mode   rpc    round  requests      p50      p90      p99      max  p99/p50  not OK  slow together",
          flush=True)
    anchors = {}
    try:
        for name in anchor_names:
            anchors[name] = start_anchor(perfmatrix, name)
        for mode in a.modes.split(","):
            nodes = {}
            try:
                for name, (dll, env) in variants.items():
                    nodes[name] = start_node(name, dll, env, mode)
                servers = list(anchors.values()) + list(nodes.values())
                for server in servers:
                    if not server.ready(perfmatrix):
                        print("%s (%s) did not become ready" % (server.name, mode)); return 1
                for rpc in rpcs:
                    for server in servers:
                        h2load(server.port, bodies["anchor" if server.anchor else "node"][rpc], a.warm, rpc)
                    for k in range(a.rounds):
                        for server in servers:
                            kind = "anchor" if server.anchor else "node"
                            clients, not_ok = measure(server, bodies[kind][rpc], rpc, a.seconds, work)
                            values = sorted(took for r in clients.values() for _, took in r)
                            label = server.name
                            if not values:
                                print("%-10s %-6s %-6s %5d  no request succeeded" % (label, mode, rpc, k + 1)); return 1
                            p50, p90, p99 = (percentile(values, p) for p in (50, 90, 99))
                            together = "%12.0f%%" % (100 * spread(clients, p99)) if a.spread else ""
                            print("%-10s %-6s %-6s %5d  %8d %6dus %6dus %6dus %6dus %8.2f  %6s %s" % (
                                label, mode, rpc, k + 1, len(values), p50, p90, p99, values[-1], p99 / p50, not_ok,
                                together), flush=True)
                            if a.per_cart:
                                carts = ANCHOR_CARTS if server.anchor else CARTS
                                for client in sorted(clients):
                                    v = sorted(took for _, took in clients[client])
                                    if v:
                                        print("    cart %d  %8d %6dus %15dus %6dus" % (
                                            carts[client], len(v), percentile(v, 50), percentile(v, 99), v[-1]))
                            rows.append((server.name, mode, rpc, p50, p99))
            finally:
                for server in nodes.values():
                    server.stop()
    finally:
        for server in anchors.values():
            server.stop()

    print("\nmedians over rounds: server mode rpc  p50  p99  p99/p50")
    groups = collections.OrderedDict()
    for name, mode, rpc, p50, p99 in rows:
        groups.setdefault((name, mode if name not in ANCHORS else "-", rpc), []).append((p50, p99))
    for (name, mode, rpc), values in groups.items():
        print("%-10s %-6s %-6s %6dus %6dus %6.2f" % (name, mode, rpc, statistics.median(v[0] for v in values),
                                                     statistics.median(v[1] for v in values),
                                                     statistics.median(v[1] / v[0] for v in values)))
    ours = [r for r in rows if r[0] not in ANCHORS]
    worst = max(ours, key=lambda r: r[4] / r[3])
    print("\nworst p99/p50 of a node: %.2f (%s %s %s); issue 12 asks <= 2.00" % (worst[4] / worst[3], worst[0], worst[1], worst[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
