#!/usr/bin/env bash
# `uring cp` against coreutils `cp` on a file in the page cache, in one run.
#
# Two pairs, each measured alike (hyperfine, the destination removed and everything
# synced before each run):
#   durable:  `uring cp SRC DST` (fsync at the end)  vs  `cp SRC DST && sync DST`
#   cached:   `uring cp --no-fsync SRC DST`          vs  `cp SRC DST`
# Prints the mean and median wall times, the CPU time (user + system, io_uring's
# worker threads included), and the ratios (cp time / uring time: above 1 means
# uring cp is faster). On a busy machine the wall times spread: uring cp works on two
# CPUs at once (reads inline, writes in an io-wq worker), cp on one.
#
# Usage: scripts/bench-cp.sh [SIZE_MIB (default 1024)] [RUNS (default 5)]
# Env:   URING=path/to/uring (default: builds target/release/uring), TMPDIR.
set -euo pipefail
size_mib=${1:-1024}
runs=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${URING:-}" ]]; then
    cargo build --release -q -p uring-cli --manifest-path "$here/Cargo.toml"
    target=${CARGO_TARGET_DIR:-$here/target}
    URING=$target/release/uring
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-cp.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
src=$dir/src
dst=$dir/dst
echo "source: ${size_mib} MiB in $dir ($(stat -f -c %T "$dir"))" >&2
head -c "$((size_mib << 20))" /dev/urandom >"$src"
sync
cat "$src" >/dev/null # in the page cache, as for both tools

if command -v hyperfine >/dev/null; then
    hyperfine --style basic -w 1 -r "$runs" --prepare "rm -f $dst; sync" \
        --export-json "$dir/durable.json" \
        -n "uring cp" "$URING cp $src $dst" \
        -n "cp + sync" "cp $src $dst && sync $dst" >&2
    hyperfine --style basic -w 1 -r "$runs" --prepare "rm -f $dst; sync" \
        --export-json "$dir/cached.json" \
        -n "uring cp --no-fsync" "$URING cp --no-fsync $src $dst" \
        -n "cp" "cp $src $dst" >&2
else
    # No hyperfine: time each command with python3, same protocol.
    for pair in durable cached; do
        python3 - "$pair" "$URING" "$src" "$dst" "$runs" "$dir/$pair.json" <<'PY'
import json, os, subprocess, sys, time
pair, uring, src, dst, runs, out = sys.argv[1:7]
cmds = {
    "durable": [("uring cp", f"{uring} cp {src} {dst}"), ("cp + sync", f"cp {src} {dst} && sync {dst}")],
    "cached": [("uring cp --no-fsync", f"{uring} cp --no-fsync {src} {dst}"), ("cp", f"cp {src} {dst}")],
}[pair]
import resource
results = []
for name, cmd in cmds:
    times, cpu = [], []
    for i in range(int(runs) + 1):
        subprocess.run(f"rm -f {dst}; sync", shell=True, check=True)
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, shell=True, check=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i:  # the first is a warm-up
            times.append(time.perf_counter() - t)
            cpu.append((r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime))
    results.append({"command": name, "mean": sum(times) / len(times), "times": times,
                    "user": sum(c[0] for c in cpu) / len(cpu),
                    "system": sum(c[1] for c in cpu) / len(cpu)})
json.dump({"results": results}, open(out, "w"))
PY
    done
fi

python3 - "$dir/durable.json" "$dir/cached.json" <<'PY'
import json, statistics, sys
for path in sys.argv[1:]:
    r = json.load(open(path))["results"]
    (a, b) = r
    med = lambda x: statistics.median(x["times"])
    for x in (a, b):
        print(f"{x['command']:>22}: mean {x['mean']:.3f} s, median {med(x):.3f} s, "
              f"CPU {x['user'] + x['system']:.3f} s")
    print(f"{'ratio':>22}: {b['mean'] / a['mean']:.2f}x by mean, {med(b) / med(a):.2f}x by median"
          f" ({b['command']} time / {a['command']} time; above 1: uring cp is faster)")
PY
