#!/usr/bin/env python3
"""A/B of node builds or settings on a loaded machine: every variant runs in ONE interleaved perfmatrix-shaped run.

  ab_variants.py --variant A=DLL [--variant B=DLL|ENV=V|ENV=V ...] [--echo] [--mode memory] [--rounds 3]
                 [--seconds 3] [--warm 3] [--rpc apply,get]

Each variant is a node (`--store memory` by default; --mode os|fsync for the embedded store; --mode redis: its own
redis-server per variant, started and pinned to CPU 1 with h2load as perfmatrix.py does) started from DLL
with the given extra environment (only the variant sees it, the echo ceiling does not). A setting that lives in
runtimeconfig.json is tried by copying the build folder and editing its runtimeconfig.json. Servers are pinned to
CPU 0 and h2load to CPU 1 with perfmatrix.py's shape (8 clients x 8 streams over 8 carts), measured server after
server in every round, so all variants see the same machine load.

Besides req/s (and its ratio to echo), prints the server's CPU time per request (utime + stime of the process
over the h2load run, divided by its requests): when other sessions load the machine a server gets only part of
CPU 0, and its req/s says more about that share than about the code; CPU per request does not depend on it.
With --mode redis it also prints, per round, redis-server's CPU time per request and the round's script calls
(INFO commandstats: EVALSHA + EVAL calls per request, usec_per_call).
Reuses perfmatrix.py's helpers (PERF_DIR, default /work/shared/perf).
"""
import argparse, os, re, statistics, subprocess, sys, tempfile, time

PERF = os.environ.get("PERF_DIR", "/work/shared/perf")
sys.dont_write_bytecode = True
sys.path.insert(0, PERF)
import perfmatrix  # noqa: E402
import protoload  # noqa: E402


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu1_busy():
    """(busy, total) jiffies of CPU 1 (h2load's and redis-server's core) from /proc/stat."""
    for line in open("/proc/stat"):
        if line.startswith("cpu1 "):
            v = [int(x) for x in line.split()[1:]]
            return sum(v) - v[3] - v[4], sum(v)
    return 0, 1


def script_stats(port):
    """(calls, usec) of EVALSHA + EVAL so far, from INFO commandstats."""
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "commandstats"], capture_output=True, text=True).stdout
    calls = usec = 0
    for m in re.finditer(r"cmdstat_(evalsha|eval):calls=(\d+),usec=(\d+)", out):
        calls += int(m.group(2))
        usec += int(m.group(3))
    return calls, usec


def start_redis(port):
    """perfmatrix.py's redis-server: pinned with h2load to CPU 1, appendonly with appendfsync everysec."""
    return subprocess.Popen(["taskset", "-c", "1", "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save",
                             "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", tempfile.mkdtemp()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bodies(proto_dir, work):
    """The same request bodies perfmatrix.py sends: the node's two-mutation Apply, the anchors' one AddItem."""
    seed = protoload.load_service_pool()
    proj, _, _ = protoload.load_project_pool(proto_dir)
    any_cls, apply_cls = seed.cls("google.protobuf.Any"), seed.cls("control_plane_messages.ApplyRequest")
    add = proj.cls("cart_messages.AddItem")(sku="sku-1", name="Item", quantity=1, unit_price=1000, tax_rate=2500)
    chg = proj.cls("cart_messages.ChangeQuantity")(item_id=1, quantity=1)
    node_ids, anchor_ids = list(range(1000, 1008)), list(range(2000, 2008))
    out = {"node": {"apply": [], "get": []}, "anchor": {"apply": [], "get": []}}
    for i in node_ids:
        req = apply_cls(id=i, messages=[
            any_cls(type_url="type.googleapis.com/cart_messages.AddItem", value=add.SerializeToString()),
            any_cls(type_url="type.googleapis.com/cart_messages.ChangeQuantity", value=chg.SerializeToString())])
        path = os.path.join(work, "ours_%d.bin" % i)
        open(path, "wb").write(perfmatrix.frame(req.SerializeToString()))
        out["node"]["apply"].append(path)
    subprocess.run([sys.executable, os.path.join(PERF, "gen/gen_bodies.py"), "--out", work,
                    "--ids", ",".join(str(i) for i in node_ids + anchor_ids)], check=True, stdout=subprocess.DEVNULL)
    out["node"]["get"] = [os.path.join(work, "get_%d.bin" % i) for i in node_ids]
    out["anchor"]["apply"] = [os.path.join(work, "apply_%d.bin" % i) for i in anchor_ids]
    out["anchor"]["get"] = [os.path.join(work, "get_%d.bin" % i) for i in anchor_ids]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", action="append", required=True, help="NAME=DLL[|ENV=VALUE...]")
    ap.add_argument("--echo", action="store_true", help="add the echo ceiling (ratios are to it)")
    ap.add_argument("--mode", default="memory", choices=("memory", "os", "fsync", "redis"))
    ap.add_argument("--proto-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "../proto"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--warm", type=int, default=3)
    ap.add_argument("--rpc", default="apply,get")
    a = ap.parse_args()
    rpcs = a.rpc.split(",")
    variants = {}
    for spec in a.variant:
        name, rest = spec.split("=", 1)
        dll, *env = rest.split("|")
        variants[name] = (dll, dict(e.split("=", 1) for e in env))
    servers = (["echo"] if a.echo else []) + list(variants)
    work = tempfile.mkdtemp()
    body = bodies(a.proto_dir, work)
    base_env = dict(os.environ, DOTNET_TC_DelaySingleProcMultiplier="1")
    procs, ports, redis = {}, {}, {}
    try:
        if a.mode == "redis":
            for s in variants:
                rport = perfmatrix.free_port()
                redis[s] = (rport, start_redis(rport))
            time.sleep(1)
        for s in servers:
            port = perfmatrix.free_port()
            ports[s] = port
            if s == "echo":
                cmd, env = ["dotnet", perfmatrix.build_anchor("echo", "echo.dll"), str(port)], base_env
            else:
                dll, extra = variants[s]
                store = (["--store", "memory"] if a.mode == "memory" else
                         ["--store", "redis://127.0.0.1:%d" % redis[s][0]] if a.mode == "redis" else ["--durability", a.mode])
                cmd = ["dotnet", dll, "--port", str(port), "--host", "127.0.0.1:%d" % port,
                       "--http-port", str(perfmatrix.free_port()), "--data-dir", tempfile.mkdtemp()] + store
                env = dict(base_env, **extra)
            procs[s] = subprocess.Popen(["taskset", "-c", "0"] + cmd, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        for s in servers:
            if not perfmatrix.wait_ping(ports[s], 90):
                print("%s did not start" % s)
                return 1
        rate = {s: {r: [] for r in rpcs} for s in servers}
        cpu = {s: {r: [] for r in rpcs} for s in servers}
        for rpc in rpcs:
            for s in servers:
                kind = "anchor" if s == "echo" else "node"
                perfmatrix.h2load(ports[s], body[kind][rpc], a.warm, rpc.capitalize())
            for k in range(a.rounds):
                for s in servers:
                    kind = "anchor" if s == "echo" else "node"
                    before = cpu_seconds(procs[s].pid)
                    store = redis.get(s)
                    if store:
                        store_before, calls_before, cpu1_before = cpu_seconds(store[1].pid), script_stats(store[0]), cpu1_busy()
                    r, bad, _ = perfmatrix.h2load(ports[s], body[kind][rpc], a.seconds, rpc.capitalize())
                    used = cpu_seconds(procs[s].pid) - before
                    # h2load's rate excludes its 1 s warm-up, during which the server worked too.
                    requests = max(1.0, r * (a.seconds + 1))
                    per_req = 1e6 * used / requests
                    rate[s][rpc].append(r)
                    cpu[s][rpc].append(per_req)
                    extra = ""
                    if store:
                        store_used = cpu_seconds(store[1].pid) - store_before
                        calls_after, cpu1_after = script_stats(store[0]), cpu1_busy()
                        calls, usec = calls_after[0] - calls_before[0], calls_after[1] - calls_before[1]
                        busy = (cpu1_after[0] - cpu1_before[0]) / max(1, cpu1_after[1] - cpu1_before[1])
                        extra = ("  redis cpu %.1f us/req (share %.2f), scripts %d (%.3f per req, %.1f us per call),"
                                 " CPU 1 busy %.2f" % (1e6 * store_used / requests, store_used / (a.seconds + 1), calls,
                                                        calls / requests, usec / calls if calls else 0.0, busy))
                    print("%s round %d %-10s %8.0f req/s  non-2xx %d  cpu %.1f us/req  core share %.2f%s"
                          % (rpc, k + 1, s, r, bad, per_req, used / (a.seconds + 1), extra), flush=True)
        print()
        print("| server | " + " | ".join("%s req/s | %s / echo | %s CPU us/req" % (r, r, r) for r in rpcs) + " |")
        print("|---|" + "---|---|---|" * len(rpcs))
        for s in servers:
            cells = []
            for r in rpcs:
                med = statistics.median(rate[s][r])
                echo = statistics.median(rate["echo"][r]) if a.echo else 0
                cells += ["%.0f" % med, "%.2f" % (med / echo) if echo else "-", "%.1f" % statistics.median(cpu[s][r])]
            print("| %s | %s |" % (s, " | ".join(cells)))
        return 0
    finally:
        for p in list(procs.values()) + [p for _, p in redis.values()]:
            p.terminate()
            try:
                p.wait(10)
            except Exception:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
