#!/usr/bin/env bash
# The performance targets of issues #16 and #18, measured in one go on this machine
# (docs/PERFORMANCE.md, "Targets at a glance"). Run it on an idle machine:
#
#   benches/targets.sh [DIR]        # DIR holds the generated files (default target/targets, ~1.5 GB)
#
# For the generated 1e6-firm economy (`generate --layers 10 --width 100000 --inputs 3 --seed 1`,
# 3e6 input edges) it measures, with /usr/bin/time (wall seconds, peak RSS, bytes per edge):
#   - `pricegrad validate` of the file in generate's spelling and in five other spellings
#     (examples/respell.rs), of an error in its last firm, and of its CSV and Parquet tables;
#   - with RUN=1, `pricegrad run --set run.max_ticks=20` (the whole run: load, ticks, the final
#     checks, whose reference solve and 40-good finite differences take about 12 minutes at 1e6);
# and the tick: examples/tick_bench.rs on 1 and 2 threads, bare and with default logging,
# against the numpy peer (benches/peers/tick.py) on the same file. Needs python3 with numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-target/targets}
mkdir -p "$DIR"
cargo build --release --quiet --bin pricegrad --example tick_bench --example respell
PG=target/release/pricegrad
EDGES=3000000
G="$DIR/g1e6.toml"
[ -s "$G" ] || $PG generate --layers 10 --width 100000 --inputs 3 --seed 1 --out "$G" >/dev/null
for s in readme tables long-floats blank-lines comments; do
  [ -s "$DIR/g1e6-$s.toml" ] || target/release/examples/respell "$G" "$DIR/g1e6-$s.toml" "$s"
done
[ -s "$DIR/csv/scenario.toml" ] || $PG generate --layers 10 --width 100000 --inputs 3 --seed 1 \
  --format tables --out "$DIR/csv" >/dev/null
[ -s "$DIR/parquet/scenario.toml" ] || $PG generate --layers 10 --width 100000 --inputs 3 --seed 1 \
  --format tables --tables-format parquet --out "$DIR/parquet" >/dev/null
# an error in the last firm: its first exponent becomes a string
BAD="$DIR/g1e6-error-at-end.toml"
[ -s "$BAD" ] || python3 - "$G" "$BAD" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
i = text.rindex("[[firms]]")
tail = re.sub(r"= ([0-9.eE+-]+)", r'= "\1"', text[i:], count=1)
open(sys.argv[2], "w").write(text[:i] + tail)
PY

measure() { # label, command...: wall s, peak MB, B/edge
  local label=$1; shift
  /usr/bin/time -o "$DIR/time.txt" -f "%e %M" "$@" >/dev/null 2>&1 || true
  read -r wall kb < <(tail -1 "$DIR/time.txt")
  printf "| %-44s | %7s s | %6d MB | %4d |\n" "$label" "$wall" $((kb / 1024)) $((kb * 1024 / EDGES))
}
echo "load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $(date -u +%F)"
echo "| 1e6 firms | wall | peak RSS | B/edge |"
echo "|---|---|---|---|"
measure "validate, generate's spelling" $PG validate "$G"
for s in readme tables long-floats blank-lines comments; do
  measure "validate, $s spelling" $PG validate "$DIR/g1e6-$s.toml"
done
measure "validate, type error in the last firm" $PG validate "$BAD"
measure "validate, CSV tables" $PG validate "$DIR/csv/scenario.toml"
measure "validate, Parquet tables" $PG validate "$DIR/parquet/scenario.toml"
if [ "${RUN:-0}" = 1 ]; then # about 12 minutes: the final checks' reference solve and finite differences
  measure "run, 20 ticks, all checks" $PG run "$G" --set run.max_ticks=20 --out "$DIR/run" --quiet
fi
echo
echo "tick (edge updates per second; 30 ticks after one warm-up; loading not timed)"
target/release/examples/tick_bench "$G" --ticks 30 --threads 1,2
target/release/examples/tick_bench "$G" --ticks 200 --threads 1,2 --logged
python3 benches/peers/tick.py "$G" --bench 10
