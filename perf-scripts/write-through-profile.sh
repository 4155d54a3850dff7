#!/usr/bin/env bash
# Kept so that the commands in docs/BENCHMARKS.md still run: profile-node.sh with PROFILER=perf does this job now
# (the node's CPU under perfmatrix's Apply shape, Applies per store write, cpu_breakdown.py). Output in OUT (see there).
#   perf-scripts/write-through-profile.sh NODE_DLL MODE [SECONDS]     MODE: memory | os | fsync | redis://host:port
PROFILER=perf SECONDS_PROFILED=${3:-8} exec "$(dirname "$0")/profile-node.sh" "$1" write-through "$2"
