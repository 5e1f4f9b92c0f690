#!/usr/bin/env bash
# `uring cp` against coreutils `cp` on a file in the page cache, in one run.
#
# Two pairs:
#   durable:  `uring cp SRC DST` (fsync at the end)  vs  `cp SRC DST && sync DST`
#   cached:   `uring cp --no-fsync SRC DST`          vs  `cp SRC DST`
# Each run starts from the same state (destination removed, everything synced, source
# in the page cache). The two commands of a pair alternate run by run, in ABBA order,
# so that a drift of the machine (other load, the disk's own write-back) or the order
# itself favours neither; hyperfine runs all of one command, then all of the other,
# which on a shared machine showed order effects of 10-20%.
#
# Prints the mean and median wall times, the CPU time (user + system, io_uring's
# worker threads included) and the ratios (cp time / uring time: above 1 means uring
# cp is faster). uring cp moves each byte twice through memory (read into a registered
# buffer, write out of it) where cp's copy_file_range moves it once, so it needs more
# CPU; it works on two CPUs at once (reads inline, writes in an io-wq worker).
#
# Usage: scripts/bench-cp.sh [SIZE_MIB (default 1024)] [RUNS per command (default 6)]
# Env:   URING=path/to/uring (default: builds target/release/uring), TMPDIR.
set -euo pipefail
size_mib=${1:-1024}
runs=${2:-6}
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${URING:-}" ]]; then
    cargo build --release -q -p uring-cli --manifest-path "$here/Cargo.toml"
    URING=${CARGO_TARGET_DIR:-$here/target}/release/uring
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-cp.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
src=$dir/src
dst=$dir/dst
echo "source: ${size_mib} MiB in $dir ($(stat -f -c %T "$dir")), $runs runs per command" >&2
head -c "$((size_mib << 20))" /dev/urandom >"$src"
sync

python3 - "$URING" "$src" "$dst" "$runs" <<'PY'
import resource, statistics, subprocess, sys, time

uring, src, dst, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pairs = [
    ("durable", (f"uring cp", f"{uring} cp {src} {dst}"),
                ("cp + sync", f"cp {src} {dst} && sync {dst}")),
    ("cached", (f"uring cp --no-fsync", f"{uring} cp --no-fsync {src} {dst}"),
               ("cp", f"cp {src} {dst}")),
]

def once(cmd):
    subprocess.run(f"rm -f {dst}; sync; cat {src} >/dev/null", shell=True, check=True)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

for label, (a_name, a_cmd), (b_name, b_cmd) in pairs:
    once(a_cmd), once(b_cmd)  # warm-up
    res = {a_name: [], b_name: []}
    for i in range(runs):
        order = [(a_name, a_cmd), (b_name, b_cmd)]
        if i % 2:
            order.reverse()  # ABBA
        for name, cmd in order:
            res[name].append(once(cmd))
    print(f"{label}:")
    for name in (a_name, b_name):
        walls = [w for w, _ in res[name]]
        cpu = statistics.mean(c for _, c in res[name])
        print(f"  {name:>20}: mean {statistics.mean(walls):.3f} s, median "
              f"{statistics.median(walls):.3f} s, CPU {cpu:.3f} s")
    ma = statistics.mean(w for w, _ in res[a_name])
    mb = statistics.mean(w for w, _ in res[b_name])
    da = statistics.median(w for w, _ in res[a_name])
    db = statistics.median(w for w, _ in res[b_name])
    print(f"  {'ratio':>20}: {mb / ma:.2f}x by mean, {db / da:.2f}x by median "
          f"({b_name} time / {a_name} time; above 1: uring cp is faster)")
PY
rm -f "$dst"
