#!/usr/bin/env bash
# User-space instructions per 4 KiB cached read (or write) of uring-rt and of the
# other runtimes, counted with valgrind's callgrind on the rt_fs benchmark binary:
# load-independent, unlike the timings of `cargo bench -p uring-bench --bench rt_fs`.
#
# Each implementation runs alone (URING_BENCH_ONLY), one workload (URING_BENCH_WORK),
# one round, twice: with N1 and with N2 operations. The difference of the two totals
# divided by N2 - N1 is the marginal cost of one operation (the task's step, the
# runtime's share of the submit and the reaping), free of setup and warm-up. The
# kernel's instructions are not counted (callgrind sees user space only).
#
# Usage: scripts/rt-fs-instructions.sh [IMPLEMENTATIONS (default "ours raw tokio-uring monoio compio")]
# Env:   WORK (read or write, default read), N1 (default 20000), N2 (default 60000).
set -euo pipefail
imps=${1:-ours raw tokio-uring monoio compio}
work=${WORK:-read}
n1=${N1:-20000}
n2=${N2:-60000}
# shellcheck source=scripts/callgrind-lib.sh
source "$(dirname "$0")/callgrind-lib.sh"
callgrind_bench rt_fs

# Total instructions of one run: implementation $1, $2 operations.
count() {
    callgrind_total URING_BENCH_ONLY="$1" URING_BENCH_WORK="$work" URING_BENCH_OPS="$2"
}

echo "- $(valgrind --version), workload $work, N1=$n1, N2=$n2"
echo
echo "| implementation | instructions per op |"
echo "|---|---:|"
for imp in $imps; do
    a=$(count "$imp" "$n1")
    b=$(count "$imp" "$n2")
    echo "| $imp | $(echo "scale=1; ($b - $a) / ($n2 - $n1)" | bc) |"
done
