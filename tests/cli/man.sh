#!/bin/sh
# recur(1) (issue 13 item 9): built by help2man at make time from the program's help texts; it
# renders with man -l without warnings and holds every command's options, the data sources and
# the settings.
. "${top_srcdir:-.}/tests/cli/lib.sh"
MAN="$BUILD/recur.1"
[ -s "$MAN" ] || fail "no recur.1 in the build tree"
command -v man >/dev/null || { echo "SKIP $NAME: no man(1) to render it"; exit 77; }
MANWIDTH=100 man -l "$MAN" > "$TMP/out" 2> "$TMP/err" || fail "man -l recur.1 failed"
[ ! -s "$TMP/err" ] || fail "man -l warns: $(cat "$TMP/err")"
for s in NAME DESCRIPTION COMMANDS 'DATA SOURCES' SETTINGS; do
  grep -q "^$s" "$TMP/out" || fail "no $s section"
done
for c in check graph init run convert inspect train sample eval; do
  grep -q "^   $c\$" "$TMP/out" || fail "no subsection for $c"
  grep -q "usage: recur $c " "$TMP/out" || fail "no usage of $c"
done
for f in 'csv(path, label=1, target=label' 'patience' 'min_delta' '--temperature T' \
         'adamw(lr=0.001' 'RFC 4180'; do
  grep -qF -- "$f" "$TMP/out" || fail "the man page lacks $f"
done
grep -q '^       recur 0.1.0' "$TMP/out" || fail "no version"
pass
