#!/usr/bin/env bash
# Rust tick vs numpy peer on the same generated Cobb-Douglas economies.
#
#   benches/peers/compare.sh [TICKS] [FIRMS...]      # defaults: 20 ticks, 1e5 and 1e6 firms
#   e.g. benches/peers/compare.sh 50 100000
#
# For each size F: `pricegrad generate --layers 10 --width F/10 --inputs 3 --family
# cobb_douglas --seed 1` (cached in $PEER_DIR, default target/peer), then
#   - Rust: examples/tick_bench.rs, 1 and 2 threads: a fresh engine, one warm-up tick, TICKS
#     timed ticks (Engine::step + finish_tick, nothing else);
#   - numpy: benches/peers/tick.py --bench TICKS: one warm-up tick, TICKS timed ticks.
# Loading the file is not timed. Prints edge updates per second (input edges x ticks / s) and
# the ratio Rust / numpy. Needs python3 (3.11+) with numpy.
set -euo pipefail
cd "$(dirname "$0")/../.."
TICKS=${1:-20}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100000 1000000)
DIR=${PEER_DIR:-target/peer}
mkdir -p "$DIR"
cargo build --release --quiet --bin pricegrad --example tick_bench
RESULTS="$DIR/compare.jsonl"
: >"$RESULTS"
for F in "${SIZES[@]}"; do
  F=$(python3 -c "print(int(float('$F')))")
  W=$((F / 10))
  FILE="$DIR/cd-10x$W-k3.toml"
  [ -s "$FILE" ] || target/release/pricegrad generate --layers 10 --width "$W" --inputs 3 \
    --family cobb_douglas --seed 1 --out "$FILE" >&2
  echo "== $F firms: $FILE" >&2
  target/release/examples/tick_bench "$FILE" --ticks "$TICKS" --threads 1,2 | tee -a "$RESULTS" >&2
  python3 benches/peers/tick.py "$FILE" --bench "$TICKS" | tee -a "$RESULTS" >&2
done
python3 - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("edge updates per second (input edges x ticks / wall seconds); in brackets per CPU second")
print(f"{'firms':>9} {'edges':>9} {'ticks':>5}  {'numpy':>20} {'rust, 1 thread':>20} {'rust, 2 threads':>20}  {'rust1/numpy':>11} {'rust2/numpy':>11}")
for firms in dict.fromkeys(r["firms"] for r in rows):
    rs = {(r["impl"], r["threads"]): r for r in rows if r["firms"] == firms}
    n, r1, r2 = rs[("numpy", 1)], rs[("rust", 1)], rs[("rust", 2)]
    def m(r):
        cpu = r["edges"] * r["ticks"] / r["cpu_seconds"]
        return f"{r['edge_updates_per_s'] / 1e6:6.1f} M ({cpu / 1e6:5.1f} M)"
    ratio = lambda r: f"{r['edge_updates_per_s'] / n['edge_updates_per_s']:.2f} ({n['cpu_seconds'] / r['cpu_seconds']:.2f})"
    print(f"{firms:>9} {n['edges']:>9} {n['ticks']:>5}  {m(n):>20} {m(r1):>20} {m(r2):>20}  {ratio(r1):>11} {ratio(r2):>11}")
print("ratios: wall time (CPU time); with 2 threads the CPU ratio is work, not speed")
EOF
