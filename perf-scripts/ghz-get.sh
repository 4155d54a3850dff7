#!/usr/bin/env bash
# Load-tests Get with ghz through server reflection, the cart id varying per request ({{randomInt 1 carts+1}}).
#   perf-scripts/ghz-get.sh [host:port] [concurrency] [duration] [carts]
set -euo pipefail
target=${1:-127.0.0.1:1337}; concurrency=${2:-64}; duration=${3:-30s}; carts=${4:-10000}
command -v ghz >/dev/null || { echo "ghz not found: see https://ghz.sh/docs/install" >&2; exit 2; }
exec ghz --insecure --call control_plane_messages.ControlPlane/Get \
  --concurrency "$concurrency" --duration "$duration" --connections 4 \
  --data '{"id": "{{randomInt 1 '"$((carts + 1))"'}}"}' "$target"
