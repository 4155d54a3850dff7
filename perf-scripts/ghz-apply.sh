#!/usr/bin/env bash
# Load-tests Apply with ghz (https://ghz.sh) through server reflection: no proto files needed.
# The cart id varies per request: ghz's template function randomInt picks one of 1..carts (never 0;
# ghz's templates have no arithmetic, so no RequestNumber modulo), and every request's batch stays valid forever (add one, set the quantity back to one).
#   perf-scripts/ghz-apply.sh [host:port] [concurrency] [duration] [carts]
set -euo pipefail
target=${1:-127.0.0.1:1337}; concurrency=${2:-64}; duration=${3:-30s}; carts=${4:-10000}
command -v ghz >/dev/null || { echo "ghz not found: see https://ghz.sh/docs/install" >&2; exit 2; }
exec ghz --insecure --call control_plane_messages.ControlPlane/Apply \
  --concurrency "$concurrency" --duration "$duration" --connections 4 \
  --data '{
    "id": "{{randomInt 1 '"$((carts + 1))"'}}",
    "messages": [
      {"@type": "type.googleapis.com/cart_messages.AddItem", "sku": "ghz", "name": "load item", "quantity": 1, "unitPrice": 1000, "taxRate": 2500},
      {"@type": "type.googleapis.com/cart_messages.ChangeQuantity", "itemId": 1, "quantity": 1}
    ]
  }' "$target"
