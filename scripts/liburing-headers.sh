#!/usr/bin/env bash
# liburing's C headers at a release tag, ready to compile against: liburing.h and
# liburing/ (with the compat.h and io_uring_version.h its ./configure generates).
#
# usage: scripts/liburing-headers.sh DEST [TAG]
#   DEST  the include directory to write (DEST/liburing.h, DEST/liburing/...)
#   TAG   default liburing-2.15, the API uring-ffi provides
# Source: $LIBURING_GIT_DIR, a git directory of axboe/liburing (a bare clone is fine;
# `git clone --bare https://github.com/axboe/liburing`), else the tag's tarball from
# GitHub (curl or wget). Needs cc and make (for liburing's configure).
set -euo pipefail
dest=${1:?usage: liburing-headers.sh DEST [TAG]}
tag=${2:-liburing-2.15}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${LIBURING_GIT_DIR:-}" ]; then
    git --git-dir="$LIBURING_GIT_DIR" archive "$tag" configure Makefile.common liburing.spec src/include |
        tar -x -C "$work"
else
    url="https://github.com/axboe/liburing/archive/refs/tags/$tag.tar.gz"
    if command -v curl >/dev/null; then curl -fsSL "$url"; else wget -qO- "$url"; fi |
        tar -xz -C "$work" --strip-components=1
fi
# configure writes compat.h (what this libc and these kernel headers lack) and
# io_uring_version.h (the release's version macros).
(cd "$work" && ./configure >/dev/null 2>&1) || { echo "liburing's configure failed" >&2; exit 1; }
mkdir -p "$dest"
cp -R "$work/src/include/." "$dest/"
