#!/usr/bin/env bash
# `uring bench` against fio (ioengine=io_uring), same workload, same file, one run:
# 4k random reads at queue depth 32 over a file in the page cache.
#
# fio runs twice: with its defaults (one I/O per submit, wait for one completion) and
# with the batching `uring bench` uses (submit what is free, wait for iodepth/4
# completions: --iodepth_batch_submit/--iodepth_batch_complete_min). Both tools draw
# offsets uniformly with replacement (fio --norandommap) and keep the page cache
# (fio --invalidate=0). Prints IOPS of each and the ratios (ours / fio).
#
# Usage: scripts/bench-vs-fio.sh [RUNTIME_S (default 5)] [SIZE_MIB (default 256)]
# Env:   URING=path/to/uring (default: builds target/release/uring), TMPDIR.
set -euo pipefail
runtime=${1:-5}
size_mib=${2:-256}
bs=4k
qd=32
batch=$((qd / 4))
here=$(cd "$(dirname "$0")/.." && pwd)
command -v fio >/dev/null || { echo "fio is not installed (apt-get install fio)" >&2; exit 1; }
if [[ -z "${URING:-}" ]]; then
    cargo build --release -q -p uring-cli --manifest-path "$here/Cargo.toml"
    URING=${CARGO_TARGET_DIR:-$here/target}/release/uring
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-vs-fio.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
file=$dir/data
head -c "$((size_mib << 20))" /dev/urandom >"$file"
cat "$file" >/dev/null # in the page cache for both

"$URING" bench --engine uring --workload randread --bs "$bs" --iodepth "$qd" \
    --batch "$batch" --runtime "$runtime" --filename "$file" --json >"$dir/ours.json"

fio_common=(--name=randread --filename="$file" --size="${size_mib}m" --rw=randread
    --bs="$bs" --ioengine=io_uring --iodepth="$qd" --direct=0 --invalidate=0
    --norandommap --randrepeat=0 --time_based --runtime="$runtime"
    --output-format=json)
fio "${fio_common[@]}" >"$dir/fio.json"
fio "${fio_common[@]}" --iodepth_batch_submit="$batch" \
    --iodepth_batch_complete_min="$batch" >"$dir/fio-batched.json"

python3 - "$dir" "$bs" "$qd" "$batch" "$runtime" "$size_mib" <<'PY'
import json, sys
d, bs, qd, batch, runtime, size = sys.argv[1:7]
ours = json.load(open(f"{d}/ours.json"))
job = ours["jobs"][0]
assert job["ok"], f"uring bench reported errors: {job}"
def fio(name):
    j = json.load(open(f"{d}/{name}.json"))["jobs"][0]
    assert j["error"] == 0, f"fio error {j['error']}"
    return j["read"]["iops"]
fio_default, fio_batched = fio("fio"), fio("fio-batched")
print(f"randread {bs}, iodepth {qd}, {size} MiB file in the page cache, {runtime} s each")
print(f"{'uring bench (batch ' + batch + ')':<34} {job['iops']:>12,.0f} IOPS")
print(f"{'fio io_uring (defaults)':<34} {fio_default:>12,.0f} IOPS")
print(f"{'fio io_uring (batch ' + batch + ')':<34} {fio_batched:>12,.0f} IOPS")
print(f"{'ratio ours / fio (defaults)':<34} {job['iops'] / fio_default:>12.2f}x")
print(f"{'ratio ours / fio (same batching)':<34} {job['iops'] / fio_batched:>12.2f}x")
PY
