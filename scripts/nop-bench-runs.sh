#!/usr/bin/env bash
# The NOP benchmark (`cargo bench -p uring-bench --bench nop`) run several times in a
# row, as issue 17's target is stated (three runs of the same command), then tables of
# every run's ratios at batches 8, 32 and 128 with the load it ran under: as the
# benchmark's main table gives them (ratios of the medians over the rounds), and paired
# by round (the median of the per-round ratios).
#
# Each run's JSON is kept as target/bench/nop-run-K.json (target/bench/nop.json is the
# last run's, as the benchmark leaves it). The benchmark is built first, so that no run
# overlaps the build.
#
# Usage: scripts/nop-bench-runs.sh [RUNS (default 3)]
# Env:   TARGET (default 1.05): the ratio a cell must reach to count as met;
#        the benchmark's own variables (URING_BENCH_ROUNDS, URING_BENCH_OPS, ...) pass
#        through. Needs jq.
set -euo pipefail
runs=${1:-3}
target=${TARGET:-1.05}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
command -v jq >/dev/null || { echo "jq is not installed (apt-get install jq)" >&2; exit 1; }
bench_dir=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/bench

cargo bench -p uring-bench --bench nop --no-run
for k in $(seq 1 "$runs"); do
    echo "== run $k of $runs, $(date -u +%H:%M:%S) UTC, $(uptime | sed 's/.*load/load/')"
    cargo bench -p uring-bench --bench nop
    cp "$bench_dir/nop.json" "$bench_dir/nop-run-$k.json"
done

# One table of every run's ratios at batches 8, 32 and 128: the JSON fields named with
# PREFIX ("" for the ratios of the medians, "paired_" for the medians of the per-round
# ratios), wall clock and (in brackets) CPU time; then how many wall-clock cells reach
# the target.
table() {
    local prefix=$1 what=$2 met=0 cells=0 k b f row l i cl ci r
    echo
    echo "| run | load before | batch 8 | batch 32 | batch 128 |"
    echo "|---:|---:|---|---|---|"
    for k in $(seq 1 "$runs"); do
        f=$bench_dir/nop-run-$k.json
        row="| $k | $(jq -r '.load_average_before[0]' "$f") |"
        for b in 8 32 128; do
            read -r l i cl ci < <(jq -r --argjson b "$b" --arg p "$prefix" \
                '.results[] | select(.batch == $b and (.sqpoll | not))
                | [.[$p + "ours_over_liburing"], .[$p + "ours_over_io_uring"],
                   .[$p + "cpu_time_ours_over_liburing"], .[$p + "cpu_time_ours_over_io_uring"]]
                | map(. // 0) | @tsv' "$f")
            row+=$(printf ' %.2f / %.2f (%.2f / %.2f) |' "$l" "$i" "$cl" "$ci")
            for r in "$l" "$i"; do
                cells=$((cells + 1))
                if awk -v r="$r" -v t="$target" 'BEGIN { exit !(r >= t) }'; then met=$((met + 1)); fi
            done
        done
        echo "$row"
    done
    echo
    echo "$met of $cells $what ratios at batches 8, 32 and 128 reach $target."
}

echo
echo "Ratios ours/liburing and ours/io-uring (wall clock; CPU time in brackets), target $target:"
table "" "wall-clock"
echo
echo "The same paired by round (median over the rounds of ours / the anchor in the same round):"
table paired_ "paired wall-clock"
