#!/usr/bin/env python3
"""Per-request CPU breakdown of a node from a profile that profile-node.sh took (issue 12, docs/BENCHMARKS.md).

  python3 cpu_breakdown.py FILE.speedscope.json [x]   dotnet-trace (PROFILER=dotnet-trace); x: also the top unclassified leaves
  python3 cpu_breakdown.py FILE.perf-script.txt       perf (PROFILER=perf): perf script -F comm,tid,ip,sym,dso

The two samplers see different things, so each keeps its own categories and attribution (a figure compares only
with one from the same sampler; docs/BENCHMARKS.md quotes both):

dotnet-trace: time on each thread's stack, minus waits (the leaf is a blocking wait), classified by the deepest frame
that matches a category (root -> leaf). Managed frames only; native code without symbols counts under its caller.

perf: leaf-first attribution. A sample belongs to the first frame, walking from the leaf towards the root, that
names a known component; runtime, libc and kernel frames are charged to the component that called them. Any sample
with RocksDB native code on its stack is the store's. A sample whose leaf is the scheduler's switch-in is counted
apart (cpu-clock charges time spent switched out there, so read it as an upper bound). Managed frames need the node
started with DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0 (profile-node.sh does).
"""
import collections, json, re, sys

# ---- dotnet-trace (speedscope, evented) ----

WAIT = re.compile(r'WorkerThreadStart\(|TryReadEvent|WaitNative|Monitor\.Wait|WaitOneNoCheck|Interop\+Sys\.Read|epoll|WaitForSignal|LowLevelSpinWaiter|Thread\.Sleep|SpinWait|PollGC|Interop\+Sys\.WaitForSocketEvents|TimerQueue\.TimerThread|Missing Symbol')
TRACE_CATEGORIES = [
    ('packing', re.compile(r'CartActor\.Packing|PackedState|CartStateLease')),
    ('cart', re.compile(r'CartActor\.Grains|CartActor\.Cart\b|CartActor\.Cart\.|CartGrain|MutationRegistry|CartModel|CartActor\.Cart\.Handlers')),
    ('mailbox', re.compile(r'MailboxShard|CartRuntime\.|ShardWork')),
    ('ownership', re.compile(r'CartActor\.Ownership|OwnershipMap|RingSnapshot|ClusterView|ClusterMembership\.IsViewStale')),
    ('our pipeline (interceptors, metrics, headers, service glue)', re.compile(r'StatusInterceptor|PeerAuthInterceptor|PeerAuthorization|NodeMetrics|FailedRequestLog|ForwardingHeaders|PeerCredentials|ControlPlaneService|NodeReadiness|CartAnswer|CartCall|CallStatus|System\.Diagnostics\.Metrics|OpenTelemetry|Counter`1|Histogram`1|CartActor\.Node\.Services\.[A-Za-z]*Interceptor|TagList')),
    ('gRPC framing + protobuf parse/serialize', re.compile(r'^Grpc\.|Grpc\.AspNetCore|Grpc\.Core|Grpc\.Shared|PipeExtensions|HttpContextServerCallContext|ServerCallHandler|StrictRequestMarshaller|Google\.Protobuf|ControlPlane\.__Helper|MinimalControlPlaneEndpoint|GrpcRequestReader|GrpcResponse|GrpcWire|GrpcDeadline|UnaryServerCallHandler|InterceptorPipeline|DefaultDeserializationContext|SerializationContext|ApplyRequest|GetRequest|ApplyResult|GetReply|MutationResult')),
    ('Kestrel / HTTP/2 / ASP.NET hosting+routing', re.compile(r'Kestrel|Http2|AspNetCore|System\.IO\.Pipelines|Pipe\+|Pipe\.|Socket|HostFiltering|EndpointRouting|HttpProtocol|HttpContext|Hosting')),
]
GCF = re.compile(r'GC|gc_heap|Allocat|JIT_New|RhpNew')


def trace_breakdown(path, list_unclassified):
    d = json.load(open(path))
    frames = [f['name'] for f in d['shared']['frames']]
    native = [0.0]; totals = collections.Counter(); busy = 0.0; others = collections.Counter()
    for p in d['profiles']:
        stack = []; last = None
        for ev in p['events']:
            t = ev['at']
            if last is not None and stack:
                dt = t - last
                leaf = frames[stack[-1]]
                if leaf in ('CPU_TIME', 'UNMANAGED_CODE_TIME') and len(stack) > 1:
                    leaf = frames[stack[-2]]
                if not WAIT.search(leaf):
                    names = [frames[i] for i in stack]
                    # only request-serving stacks: thread-pool / IO threads doing work
                    cat = None
                    for n in names:
                        for ci, (cname, rx) in enumerate(TRACE_CATEGORIES):
                            if rx.search(n):
                                if ci <= 4 or cat is None or (ci == 5 and cat == TRACE_CATEGORIES[6][0]):
                                    cat = cname
                                break
                    if leaf == '?!?':
                        native[0] += dt
                    if cat is None:
                        cat = 'GC / allocation' if GCF.search(leaf) else 'other (runtime, thread pool, unresolved)'
                    totals[cat] += dt; busy += dt
                    if cat.startswith('other') or cat.startswith('Kestrel'): others[(cat[:6], leaf, frames[stack[-1]])] += dt
            last = t
            if ev['type'] == 'O': stack.append(ev['frame'])
            else:
                if stack: stack.pop()
    print('busy thread time %.0f ms (%.0f%% of it in native frames without symbols, counted under their managed caller)' % (busy, 100.0 * native[0] / busy))
    for k, v in totals.most_common():
        print('%-60s %5.1f%%' % (k, 100.0 * v / busy))
    if list_unclassified:
        for k, v in others.most_common(25): print('   %s %-80s %s %5.1f%%' % (k[0], k[1][-80:], k[2][:3], 100.0 * v / busy))


# ---- perf (perf script text) ----

PERF_CATEGORIES = [
    ("store: RocksDB native (WAL append, memtable, write group)", r"librocksdb|rocksdb::|rocksdb_"),
    ("store: our store code and clients (encode, batch, Redis client)", r"\[CartActor\.Persistence\]|RocksDbSharp|StackExchange\.Redis|Pipelines\.Sockets"),
    ("mailbox: queue, pass, write-through bookkeeping", r"CartActor\.Mailboxes|CartActor\.CartRuntime"),
    ("cart: apply, totals, pack state", r"CartActor\.Grains|CartActor\.Cart\.|CartActor\.Packing|MutationHandler"),
    ("protobuf: request parse, reply encode", r"Google\.Protobuf|CartActor\.ControlPlane\."),
    ("node pipeline: service, interceptors, metrics", r"\[CartActor\.Node\]|OpenTelemetry|System\.Diagnostics\.Metrics"),
    ("gRPC framing (Grpc.AspNetCore)", r"Grpc\."),
    ("Kestrel HTTP/2 and hosting", r"Kestrel|Microsoft\.AspNetCore"),
    ("sockets (send/receive)", r"System\.Net\.Sockets"),
    ("thread pool dispatch, async continuations", r"ThreadPool|LowLevelLifoSemaphore|AsyncStateMachineBox|ExecutionContext|WorkerThread"),
]
SWITCH = "kernel: switched in after a wait (upper bound)"
OTHER = "runtime or kernel with no managed caller (GC, JIT, timers)"


def perf_breakdown(path):
    compiled = [(name, re.compile(rx)) for name, rx in PERF_CATEGORIES]
    counts, total = collections.Counter(), 0
    for sample in open(path).read().split("\n\n"):
        lines = [l.strip() for l in sample.strip().split("\n") if l.strip()]
        if len(lines) < 2:
            continue
        total += 1
        frames = lines[1:]
        if any(compiled[0][1].search(f) for f in frames):
            counts[compiled[0][0]] += 1
        elif re.search(r"finish_task_switch|__schedule", frames[0]):
            counts[SWITCH] += 1
        else:
            for frame in frames:
                hit = next((name for name, rx in compiled[1:] if rx.search(frame)), None)
                if hit:
                    counts[hit] += 1
                    break
            else:
                counts[OTHER] += 1
    for name, n in counts.most_common():
        print("%5.1f%%  %s" % (100.0 * n / total, name))
    print("samples: %d" % total)


if __name__ == "__main__":
    if sys.argv[1].endswith(".json"):
        trace_breakdown(sys.argv[1], len(sys.argv) > 2)
    else:
        perf_breakdown(sys.argv[1])
