#!/bin/sh
# install.sh: `make install` into a fresh prefix after reconfiguring an already built tree with
# another prefix gives a program that starts, its man page and a library that a program built
# with `pkg-config --cflags --libs recur` (shared, and --static) links and runs. Run by .ci/run
# from a built tree (it reconfigures it); not part of make check.
set -eu
cd "$(dirname "$0")/.."
P=$(mktemp -d "${TMPDIR:-/tmp}/recur-prefix.XXXXXX")
trap 'rm -rf "$P"' EXIT
./configure -q --prefix="$P/first" --enable-static
make -j2 -s
./configure -q --prefix="$P/second" --enable-static
make -j2 -s install
"$P/second/bin/recur" --version | grep -qx 'recur 0.1.0'
"$P/second/bin/recur" check models/adding.rnn
man -l "$P/second/share/man/man1/recur.1" | grep -q 'recur help settings' ||
  { echo "FAIL: the installed man page does not render"; exit 1; }
[ -e "$P/second/lib/librecur.a" ] || { echo "FAIL: no static library"; exit 1; }
export PKG_CONFIG_PATH="$P/second/lib/pkgconfig"
cc examples/embed.c $(pkg-config --cflags --libs recur) -o "$P/embed"
LD_LIBRARY_PATH="$P/second/lib" "$P/embed" models/adding.rnn | grep -q 'output 2 rows x 1'
# librecur.a and the dependencies pkg-config --static lists (they stay shared: Debian's
# OpenBLAS, protobuf-c, json-c, libdeflate and libcsv)
cc examples/embed.c $(pkg-config --cflags recur) $(pkg-config --libs-only-L recur) \
  -Wl,-Bstatic -lrecur -Wl,-Bdynamic $(pkg-config --static --libs recur | sed 's/-lrecur//') \
  -o "$P/embed-static"
ldd "$P/embed-static" | grep -q librecur && { echo "FAIL: the static build needs librecur.so"; exit 1; }
"$P/embed-static" models/adding.rnn | grep -q 'output 2 rows x 1'
echo "install: a reconfigured tree installs a working recur, man page, shared and static library"
