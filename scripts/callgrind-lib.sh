# Shared by the *-instructions.sh scripts (sourced, not run): counting a uring-bench
# benchmark's user-space instructions with valgrind's callgrind.

# callgrind_bench NAME: builds the uring-bench benchmark NAME, sets $bin to it and $out
# to a temporary directory removed on exit, and prints the machine line.
callgrind_bench() {
    local name=$1 here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
    bin=$(cargo bench -p uring-bench --bench "$name" --manifest-path "$here/Cargo.toml" --no-run \
        --message-format=json 2>/dev/null |
        sed -n "s/.*\"executable\":\"\([^\"]*\/$name-[^\"]*\)\".*/\1/p" | tail -n1)
    [[ -x "$bin" ]] || { echo "could not build the $name benchmark" >&2; exit 1; }
    out=$(mktemp -d "${TMPDIR:-/tmp}/$name-instructions.XXXXXX")
    trap 'rm -rf "$out"' EXIT INT TERM
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
}

# callgrind_total VAR=VALUE...: the total instructions of one round of $bin run with
# those variables set.
callgrind_total() {
    env "$@" URING_BENCH_ROUNDS=1 \
        valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$bin" --bench \
        >/dev/null 2>"$out/valgrind.log" || { cat "$out/valgrind.log" >&2; exit 1; }
    sed -n 's/^summary: *//p' "$out/cg.out"
}

# callgrind_example NAME: builds the uring-bench example NAME (release), sets $bin to it
# and $out to a temporary directory removed on exit, and prints the machine line.
callgrind_example() {
    local name=$1 here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
    bin=$(cargo build --release -p uring-bench --example "$name" --manifest-path "$here/Cargo.toml" \
        --message-format=json 2>/dev/null |
        sed -n "s/.*\"executable\":\"\([^\"]*\/$name\)\".*/\1/p" | tail -n1)
    [[ -x "$bin" ]] || { echo "could not build the $name example" >&2; exit 1; }
    out=$(mktemp -d "${TMPDIR:-/tmp}/$name-instructions.XXXXXX")
    trap 'rm -rf "$out"' EXIT INT TERM
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
}
