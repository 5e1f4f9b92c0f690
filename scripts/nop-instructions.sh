#!/usr/bin/env bash
# User-space instructions per NOP of ours, liburing (C) and the io-uring crate, counted
# with valgrind's callgrind on the NOP benchmark binary: load-independent, unlike the
# timings of `cargo bench -p uring-bench --bench nop`.
#
# Each implementation runs alone (URING_BENCH_ONLY), one batch size at a time
# (URING_BENCH_BATCHES), one round, twice: with N1 and with N2 timed NOPs. The
# difference of the two instruction totals divided by N2 - N1 is the marginal cost of
# one NOP (push, submit share, reap), free of the ring setup, the warm-up and process
# start-up. Instructions inside the kernel are not counted (callgrind sees user space
# only); the system call's user-space side is.
#
# Usage: scripts/nop-instructions.sh [BATCHES (default "8 32 128")]
# Env:   N1 (default 100000), N2 (default 300000).
set -euo pipefail
batches=${1:-8 32 128}
n1=${N1:-100000}
n2=${N2:-300000}
# shellcheck source=scripts/callgrind-lib.sh
source "$(dirname "$0")/callgrind-lib.sh"
callgrind_bench nop

# Total instructions of one run: implementation $1, batch $2, $3 timed NOPs.
count() {
    callgrind_total URING_BENCH_ONLY="$1" URING_BENCH_BATCHES="$2" URING_BENCH_OPS="$3"
}

echo "- $(valgrind --version), N1=$n1, N2=$n2"
echo
imps=(ours liburing io-uring)
declare -A per_nop
echo "| batch | ours | liburing | io-uring | ours/liburing | ours/io-uring |"
echo "|---:|---:|---:|---:|---:|---:|"
for batch in $batches; do
    row=()
    for imp in "${imps[@]}"; do
        a=$(count "$imp" "$batch" "$n1")
        b=$(count "$imp" "$batch" "$n2")
        per_nop[$imp,$batch]=$(echo "scale=3; ($b - $a) / ($n2 - $n1)" | bc)
        row+=("$(printf '%.1f' "${per_nop[$imp,$batch]}")")
    done
    r1=$(printf '%.2f' "$(echo "scale=4; ${row[0]} / ${row[1]}" | bc)")
    r2=$(printf '%.2f' "$(echo "scale=4; ${row[0]} / ${row[2]}" | bc)")
    echo "| $batch | ${row[0]} | ${row[1]} | ${row[2]} | $r1 | $r2 |"
done

# With two batch sizes or more: split the cost per NOP, c(b) = op + batch / b, into
# what each NOP costs (push, reap) and what each batch costs (sync, submit, the system
# call's user side, the reap's setup), from the smallest and the largest batch.
set -- $batches
lo=$1
hi=${!#}
if [[ $lo != "$hi" ]]; then
    echo
    echo "Split from batches $lo and $hi (c(b) = per NOP + per batch / b):"
    echo
    echo "| | ours | liburing | io-uring |"
    echo "|---|---:|---:|---:|"
    ops=() per_batch=()
    for imp in "${imps[@]}"; do
        b=$(echo "scale=3; (${per_nop[$imp,$lo]} - ${per_nop[$imp,$hi]}) / (1 / $lo - 1 / $hi)" | bc)
        per_batch+=("$(printf '%.0f' "$b")")
        ops+=("$(printf '%.1f' "$(echo "scale=3; ${per_nop[$imp,$hi]} - $b / $hi" | bc)")")
    done
    echo "| per NOP | ${ops[0]} | ${ops[1]} | ${ops[2]} |"
    echo "| per batch | ${per_batch[0]} | ${per_batch[1]} | ${per_batch[2]} |"
fi
