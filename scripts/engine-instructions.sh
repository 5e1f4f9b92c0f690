#!/usr/bin/env bash
# User-space instructions per request of the engine (and, for scale, of the kernel's
# ring), counted with valgrind's callgrind on the engine_ops example: load-independent,
# unlike the timings of `cargo bench -p uring-bench --bench engine`.
#
# Each op runs twice, on one CPU (`taskset -c 0`: no assisting thread, so only the
# request's own path is counted), with N1 and with N2 requests: the difference of the
# two totals divided by N2 - N1 is the marginal cost of one request (prepare, issue,
# complete, the submit and reap shares), free of setup and warm-up. NOPs go at batch
# 32, reads (4 KiB, random, from a cached 64 MiB file) at depth 32. The kernel's own
# instructions are not counted (callgrind sees user space only), nor the kernel side
# of the engine's system calls.
#
# Usage: scripts/engine-instructions.sh [OPS (default "nop read readv")]
# Env:   N1 (default 5000), N2 (default 25000), BACKENDS (default "engine kernel"),
#        TOP=n also prints the n costliest functions per request (inclusive) of the
#        engine's N2 run less its N1 run, and their own (self) cost;
#        KEEP=DIR keeps the profiles there (for `callgrind_annotate --auto=yes`).
set -euo pipefail
ops=${1:-nop read readv}
n1=${N1:-5000}
n2=${N2:-25000}
backends=${BACKENDS:-engine kernel}
top=${TOP:-0}
# shellcheck source=scripts/callgrind-lib.sh
source "$(dirname "$0")/callgrind-lib.sh"
callgrind_example engine_ops
file="$out/file"
head -c $((64 << 20)) /dev/zero >"$file"
cat "$file" >/dev/null

# Total instructions of one run: backend $1, op $2, $3 requests; the profile is kept
# in $out/$1-$2-$3.out.
count() {
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out/$1-$2-$3.out" \
        "$bin" "$1" "$2" "$3" "$file" >/dev/null 2>"$out/valgrind.log" ||
        { cat "$out/valgrind.log" >&2; exit 1; }
    sed -n 's/^summary: *//p' "$out/$1-$2-$3.out"
}

# Instructions per function in profile $1 as "name<TAB>count" lines, sorted by name:
# inclusive if $2 is yes (the largest of the function's entries: code inlined from other
# files makes entries of their own), else the function's own (self, summed over them).
per_fn() {
    callgrind_annotate --auto=no --inclusive="$2" --threshold=100 "$1" 2>/dev/null |
        sed -n 's/^ *\([0-9,]*\) ([^)]*) *[^:]*:\(.*\)$/\2\t\1/p' | sed 's/ \[[^]]*\]\t/\t/' |
        grep -v -e '^(below main)' -e '^0x' -e lang_start -e backtrace -e '^main\b' -e libc_start |
        tr -d , | awk -F'\t' -v incl="$2" '{ n[$1] = incl == "yes" ? (n[$1] > $2 ? n[$1] : $2) : n[$1] + $2 } END { for (f in n) print f "\t" n[f] }' |
        sort -t $'\t' -k1,1
}

# "incl self name" per request, for the functions whose cost grew between profile $1 (N1
# requests) and profile $2 (N2 requests), costliest first.
per_request() {
    local d=$((n2 - n1))
    join -t $'\t' -a 1 -e 0 -o 0,1.2,2.2 <(per_fn "$2" yes) <(per_fn "$1" yes) >"$out/incl"
    join -t $'\t' -a 1 -e 0 -o 0,1.2,2.2 <(per_fn "$2" no) <(per_fn "$1" no) >"$out/self"
    join -t $'\t' -a 1 -e 0 -o 0,1.2,1.3,2.2,2.3 "$out/incl" "$out/self" |
        awk -F'\t' -v d=$d '($2 - $3) / d >= 0.5 { printf "%8.1f %8.1f  %s\n", ($2 - $3) / d, ($4 - $5) / d, $1 }' |
        sort -rn | head -n "$top"
}

echo "- $(valgrind --version), N1=$n1, N2=$n2, taskset -c 0"
echo
echo "| op | $(echo "$backends" | sed 's/ / | /g') |"
echo "|---|$(for _ in $backends; do printf -- '---:|'; done)"
for op in $ops; do
    row=()
    for b in $backends; do
        a=$(count "$b" "$op" "$n1")
        c=$(count "$b" "$op" "$n2")
        row+=("$(echo "scale=1; ($c - $a) / ($n2 - $n1)" | bc)")
    done
    echo "| $op | $(IFS='|'; echo "${row[*]}" | sed 's/|/ | /g') |"
done

if ((top > 0)); then
    for op in $ops; do
        echo
        echo "engine $op, instructions per request (N2 run - N1 run), inclusive and self:"
        echo
        per_request "$out/engine-$op-$n1.out" "$out/engine-$op-$n2.out"
    done
fi
if [[ -n ${KEEP:-} ]]; then
    mkdir -p "$KEEP" && cp "$out"/*.out "$KEEP"/
fi
