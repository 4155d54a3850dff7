#!/usr/bin/env python3
import json, sys, re, collections
# perf-scripts/profile_breakdown.py FILE.speedscope.json [x]   (x: also list the top unclassified leaves)
# Per-request CPU breakdown from a dotnet-trace speedscope (evented) file: time on each thread's stack, minus
# waits (leaf is a blocking wait), classified by the deepest frame that matches a category (root -> leaf).
d = json.load(open(sys.argv[1]))
frames = [f['name'] for f in d['shared']['frames']]
WAIT = re.compile(r'WorkerThreadStart\(|TryReadEvent|WaitNative|Monitor\.Wait|WaitOneNoCheck|Interop\+Sys\.Read|epoll|WaitForSignal|LowLevelSpinWaiter|Thread\.Sleep|SpinWait|PollGC|Interop\+Sys\.WaitForSocketEvents|TimerQueue\.TimerThread|Missing Symbol')
CATS = [
    ('packing', re.compile(r'CartActor\.Packing|PackedState|CartStateLease')),
    ('cart', re.compile(r'CartActor\.Grains|CartActor\.Cart\b|CartActor\.Cart\.|CartGrain|MutationRegistry|CartModel|CartActor\.Cart\.Handlers')),
    ('mailbox', re.compile(r'MailboxShard|CartRuntime\.|ShardWork')),
    ('ownership', re.compile(r'CartActor\.Ownership|OwnershipMap|RingSnapshot|ClusterView|ClusterMembership\.IsViewStale')),
    ('our pipeline (interceptors, metrics, headers, service glue)', re.compile(r'StatusInterceptor|PeerAuthInterceptor|PeerAuthorization|NodeMetrics|FailedRequestLog|ForwardingHeaders|PeerCredentials|ControlPlaneService|NodeReadiness|CartAnswer|CartCall|CallStatus|System\.Diagnostics\.Metrics|OpenTelemetry|Counter`1|Histogram`1|CartActor\.Node\.Services\.[A-Za-z]*Interceptor|TagList')),
    ('gRPC framing + protobuf parse/serialize', re.compile(r'^Grpc\.|Grpc\.AspNetCore|Grpc\.Core|Grpc\.Shared|PipeExtensions|HttpContextServerCallContext|ServerCallHandler|StrictRequestMarshaller|Google\.Protobuf|ControlPlane\.__Helper|MinimalControlPlaneEndpoint|GrpcRequestReader|GrpcResponse|GrpcWire|GrpcDeadline|UnaryServerCallHandler|InterceptorPipeline|DefaultDeserializationContext|SerializationContext|ApplyRequest|GetRequest|ApplyResult|GetReply|MutationResult')),
    ('Kestrel / HTTP/2 / ASP.NET hosting+routing', re.compile(r'Kestrel|Http2|AspNetCore|System\.IO\.Pipelines|Pipe\+|Pipe\.|Socket|HostFiltering|EndpointRouting|HttpProtocol|HttpContext|Hosting')),
]
GCF = re.compile(r'GC|gc_heap|Allocat|JIT_New|RhpNew')
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
                    for ci, (cname, rx) in enumerate(CATS):
                        if rx.search(n):
                            if ci <= 4 or cat is None or (ci == 5 and cat == CATS[6][0]):
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
if len(sys.argv) > 2:
    for k, v in others.most_common(25): print('   %s %-80s %s %5.1f%%' % (k[0], k[1][-80:], k[2][:3], 100.0 * v / busy))
