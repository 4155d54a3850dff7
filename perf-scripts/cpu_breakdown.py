#!/usr/bin/env python3
"""Per-request CPU breakdown of a node from `perf script` output (issue 12, docs/BENCHMARKS.md).

  perf script -i perf.data -F comm,tid,ip,sym,dso > node.script
  python3 cpu_breakdown.py node.script

Leaf-first attribution: a sample belongs to the first frame, walking from the leaf towards the root, that
names a known component; runtime, libc and kernel frames are charged to the component that called them. Any
sample with RocksDB native code on its stack is the store's. A sample whose leaf is the scheduler's switch-in
is counted apart (cpu-clock charges time spent switched out there, so read it as an upper bound). Managed
frames need the node started with DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0.
"""
import collections, re, sys

CATEGORIES = [
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


def main(path):
    compiled = [(name, re.compile(rx)) for name, rx in CATEGORIES]
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
    sys.exit(main(sys.argv[1]))
