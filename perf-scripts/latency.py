#!/usr/bin/env python3
"""Per-request latency percentiles (p50/p90/p99/max) of Apply and Get at 64 streams, per node mode (issue 12:
"p99 at 64 streams <= 2 x p50").

  latency.py --node-dll PATH [--modes memory,os,fsync,redis] [--rpc apply,get] [--seconds 6] [--warm 8] [--rounds 1]

The shape of ../shared/perf/perfmatrix.py: the node pinned to CPU 0 with taskset, 8 h2load clients pinned to
CPU 1, each one connection with 8 streams on its own cart (64 calls in flight), the same Apply body (AddItem +1,
ChangeQuantity back to 1: valid for ever) and GetRequest on the same carts. perfmatrix reports means; this
asks h2load for every request's time (--log-file) and ranks them. Each mode gets its own node (and, for redis,
a redis-server on CPU 1, appendonly everysec, as perfmatrix starts it); a warm-up run (not recorded) comes
before each measured run. Frames come from grpc_frames.py; no protobuf library is needed.

Checks: h2load logs HTTP status only, and a gRPC error is HTTP 200 with a grpc-status trailer, so the node's own
per-status call counts (cartactor_requests_total on /metrics) are read before and after each run; the run's
line says how many calls did not end OK (the percentiles are not worth reading if any did).

Needs: h2load (Debian nghttp2-client), taskset, dotnet, redis-server for the redis mode. Build the node first
(dotnet build -c Release src/CartActor.Node).
"""
import argparse, glob, os, socket, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import grpc_frames  # noqa: E402

CARTS = [1000 + i for i in range(8)]
PATHS = {"apply": "control_plane_messages.ControlPlane/Apply", "get": "control_plane_messages.ControlPlane/Get"}


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


def read_latencies(log_dir, rpc):
    """Microseconds of every request that got HTTP 200, and how many streams failed or got another status."""
    ok, failed = [], 0
    for path in glob.glob(os.path.join(log_dir, "%s_*.tsv" % rpc)):
        for line in open(path):
            cols = line.split("\t")
            if len(cols) < 3:
                continue
            if cols[1] == "200":
                ok.append(int(cols[2]))
            else:
                failed += 1
    return sorted(ok), failed


def percentile(sorted_values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def start_node(dll, mode, redis_port):
    port, http = free_port(), free_port()
    extra = (["--store", "memory"] if mode == "memory" else
             ["--store", "redis://127.0.0.1:%d" % redis_port] if mode == "redis" else ["--durability", mode])
    cmd = ["taskset", "-c", "0", "dotnet", dll, "--port", str(port), "--host", "127.0.0.1:%d" % port,
           "--http-port", str(http), "--data-dir", tempfile.mkdtemp()] + extra
    env = dict(os.environ, DOTNET_TC_DelaySingleProcMultiplier="1")
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port, http


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--node-dll", required=True)
    ap.add_argument("--modes", default="memory,os,fsync,redis")
    ap.add_argument("--rpc", default="apply,get")
    ap.add_argument("--seconds", type=int, default=6, help="measured h2load seconds per mode and rpc")
    ap.add_argument("--warm", type=int, default=8, help="unrecorded h2load seconds before each measured run (perfmatrix's default)")
    ap.add_argument("--rounds", type=int, default=1, help="measured runs per mode and rpc (each reported)")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="latency-")
    bodies = {"apply": [], "get": []}
    for cart in CARTS:
        for rpc, message in (("apply", grpc_frames.apply_request(cart)), ("get", grpc_frames.get_request(cart))):
            path = os.path.join(work, "%s_%d.bin" % (rpc, cart))
            open(path, "wb").write(grpc_frames.frame(message))
            bodies[rpc].append(path)

    rows = []
    print("mode   rpc    round  requests      p50      p90      p99      max  p99/p50  not OK", flush=True)
    for mode in a.modes.split(","):
        redis = None
        redis_port = free_port()
        if mode == "redis":
            redis = subprocess.Popen(["taskset", "-c", "1", "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                                      "--dir", tempfile.mkdtemp()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        node, port, http = start_node(a.node_dll, mode, redis_port)
        try:
            if not wait_ready(http, node):
                print("node-%s did not become ready" % mode); return 1
            for rpc in a.rpc.split(","):
                h2load(port, bodies[rpc], a.warm, rpc)
                for k in range(a.rounds):
                    log_dir = tempfile.mkdtemp(dir=work)
                    before = calls_by_status(http, rpc)
                    h2load(port, bodies[rpc], a.seconds, rpc, log_dir)
                    after = calls_by_status(http, rpc)
                    not_ok = sum(v - before.get(s, 0) for s, v in after.items() if s != "OK")
                    values, failed = read_latencies(log_dir, rpc)
                    if not values:
                        print("%-6s %-6s %5d  no request succeeded" % (mode, rpc, k + 1)); return 1
                    p50, p90, p99 = (percentile(values, p) for p in (50, 90, 99))
                    line = "%-6s %-6s %5d  %8d %6dus %6dus %6dus %6dus %8.2f  %d" % (
                        mode, rpc, k + 1, len(values), p50, p90, p99, values[-1], p99 / p50, not_ok + failed)
                    print(line, flush=True)
                    rows.append((mode, rpc, p50, p99))
        finally:
            for p in (node, redis):
                if p is not None:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()

    worst = max(rows, key=lambda r: r[3] / r[2])
    print("\nworst p99/p50: %.2f (%s %s); issue 12 asks <= 2.00" % (worst[3] / worst[2], worst[0], worst[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
