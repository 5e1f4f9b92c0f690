#!/usr/bin/env bash
# Installs uring-ffi as a system library: liburing.so.2 and liburing-ffi.so.2 (liburing
# 2.15's API and symbol versions), their development links, pkg-config files, and
# liburing 2.15's headers when no liburing.h is there.
#
# usage: scripts/install-liburing.sh [options] [PREFIX]     (PREFIX default /usr/local)
#        scripts/install-liburing.sh --uninstall [PREFIX]
# options:
#   --libdir DIR    where the libraries go (default PREFIX/lib)
#   --headers       install liburing 2.15's headers even if a liburing.h exists
#   --no-headers    never install headers (default: only when neither PREFIX/include
#                   nor /usr/include has liburing.h, i.e. liburing-dev is absent)
#   --no-build      install what target/dist already holds
#   --lib-from DIR  install DIR/liburing_ffi.so (and DIR/liburing_ffi_inline.so if
#                   there) as built elsewhere, e.g. by cargo test, instead of building
# Env: LIBURING_GIT_DIR  where the headers come from (see scripts/liburing-headers.sh;
#                        without it they are downloaded from GitHub)
#
# Files installed in LIBDIR: liburing.so.2.15 and liburing-ffi.so.2.15 (stripped, built
# with cargo's `dist` profile), the SONAME links liburing.so.2 and liburing-ffi.so.2, the
# link-time names liburing.so and liburing-ffi.so, and pkgconfig/liburing.pc and
# pkgconfig/liburing-ffi.pc. A file that exists and was not installed by this script is
# never overwritten: it is kept and reported (e.g. a distribution's liburing.pc when
# LIBDIR is the system's). What was installed is listed in
# PREFIX/share/uring-ffi/installed-files, which --uninstall removes, file by file.
# When LIBDIR is one of the loader's directories and we are root, ldconfig runs: it
# points liburing.so.2 at the newest liburing.so.2.* of each directory and rebuilds
# the cache, so programs (setuid ones too) load ours from then on.
set -euo pipefail

version=2.15
prefix=/usr/local
libdir=
headers=auto
build=1
from=
uninstall=0
while [ $# -gt 0 ]; do
    case $1 in
    --libdir) libdir=${2:?--libdir needs a directory}; shift ;;
    --libdir=*) libdir=${1#--libdir=} ;;
    --headers) headers=yes ;;
    --no-headers) headers=no ;;
    --no-build) build=0 ;;
    --lib-from) from=${2:?--lib-from needs a directory}; build=0; shift ;;
    --lib-from=*) from=${1#--lib-from=}; build=0 ;;
    --uninstall) uninstall=1 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) prefix=$1 ;;
    esac
    shift
done
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
libdir=${libdir:-$prefix/lib}
includedir=$prefix/include
manifest=$prefix/share/uring-ffi/installed-files

# Runs ldconfig when LIBDIR is a directory the loader's cache covers and we may
# rebuild it; otherwise says how the loader finds the library.
refresh_loader() {
    if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null &&
        ldconfig -v -N 2>/dev/null | grep -q "^$libdir:"; then
        ldconfig
        echo "ldconfig: the loader now resolves liburing.so.2 to $(ldconfig -p | awk '/liburing\.so\.2 /{print $NF; exit}')"
    else
        echo "note: $libdir is not in the loader's cache; use LD_LIBRARY_PATH=$libdir, or add it to /etc/ld.so.conf.d and run ldconfig"
    fi
}

if [ "$uninstall" = 1 ]; then
    [ -f "$manifest" ] || { echo "nothing installed under $prefix ($manifest missing)" >&2; exit 1; }
    libdir=$(dirname "$(grep -m1 '/liburing\.so\.' "$manifest" || echo "$libdir/x")")
    # Deepest paths first, so directories we created empty out before we try them.
    sort -r "$manifest" | while IFS= read -r f; do
        if [ -L "$f" ] || [ -f "$f" ]; then
            rm -f "$f"
        elif [ -d "$f" ]; then
            rmdir "$f" 2>/dev/null || true
        fi
    done
    rm -f "$manifest"
    rmdir "$(dirname "$manifest")" 2>/dev/null || true
    echo "removed uring-ffi from $prefix"
    refresh_loader
    exit 0
fi

root=$(cd "$(dirname "$0")/.." && pwd)
from=${from:-${CARGO_TARGET_DIR:-$root/target}/dist}
if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --profile dist -p uring-ffi -p uring-ffi-inline)
fi
[ -f "$from/liburing_ffi.so" ] || { echo "$from/liburing_ffi.so missing: build it (drop --no-build)" >&2; exit 1; }

mkdir -p "$(dirname "$manifest")"
touch "$manifest"
owned() { grep -qxF "$1" "$manifest"; }
record() { owned "$1" || echo "$1" >>"$manifest"; }
# May we write path $1: free, or ours from an earlier install?
free() { { [ ! -e "$1" ] && [ ! -L "$1" ]; } || owned "$1"; }
kept=()

put_file() { # source, destination, mode
    if free "$2"; then
        install -D -m "$3" "$1" "$2"
        record "$2"
    else
        kept+=("$2")
    fi
}
put_link() { # target, link name
    if free "$2"; then
        ln -sfn "$1" "$2"
        record "$2"
    else
        kept+=("$2")
    fi
}

if [ ! -d "$libdir/pkgconfig" ]; then
    mkdir -p "$libdir/pkgconfig"
    record "$libdir/pkgconfig"
fi
for lib in liburing:liburing_ffi liburing-ffi:liburing_ffi_inline; do
    name=${lib%%:*}
    built=$from/${lib#*:}.so
    if [ ! -f "$built" ]; then
        echo "note: $built missing, $name.so.2 not installed"
        continue
    fi
    real=$libdir/$name.so.$version
    if ! free "$real"; then
        echo "$real exists and is not ours: remove it or choose another --libdir" >&2
        exit 1
    fi
    put_file "$built" "$real" 0755
    # The dist profile strips already; strip again in case it was built otherwise.
    command -v strip >/dev/null && strip --strip-unneeded "$real"
    put_link "$name.so.$version" "$libdir/$name.so.2"
    put_link "$name.so.2" "$libdir/$name.so"
    pc=$(mktemp)
    cat >"$pc" <<EOF
prefix=$prefix
exec_prefix=\${prefix}
libdir=$libdir
includedir=$includedir

Name: $name
Version: $version
Description: io_uring library: liburing's API and ABI, implemented in Rust by uring-ffi
URL: https://github.com/axboe/liburing
Libs: -L\${libdir} -l${name#lib}
Cflags: -I\${includedir}
EOF
    put_file "$pc" "$libdir/pkgconfig/$name.pc" 0644
    rm -f "$pc"
done

if [ "$headers" = auto ]; then
    if [ -e "$includedir/liburing.h" ] || [ -e /usr/include/liburing.h ]; then
        headers=no
    else
        headers=yes
    fi
fi
if [ "$headers" = yes ]; then
    staged=$(mktemp -d)
    trap 'rm -rf "$staged"' EXIT
    "$root/scripts/liburing-headers.sh" "$staged" "liburing-$version"
    (cd "$staged" && find . -type f) | sort | while IFS= read -r f; do
        f=${f#./}
        if free "$includedir/$f"; then
            install -D -m 0644 "$staged/$f" "$includedir/$f"
            record "$includedir/$f"
        else
            echo "kept (not ours): $includedir/$f"
        fi
    done
    # The directories the headers created, for --uninstall to remove once empty.
    (cd "$staged" && find . -mindepth 1 -type d) | while IFS= read -r d; do
        record "$includedir/${d#./}"
    done
fi

echo "installed uring-ffi (liburing $version API) into $libdir:"
for f in "$libdir/liburing.so.$version" "$libdir/liburing-ffi.so.$version"; do
    [ -f "$f" ] && echo "  $f: $(stat -c %s "$f") bytes"
done
for f in "${kept[@]}"; do
    echo "kept (not ours): $f"
done
refresh_loader
