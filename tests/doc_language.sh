#!/bin/sh
# doc/LANGUAGE.md stays true to the code (issue 13 item 8): every layer, option, function,
# setting, source, optimiser, schedule, loss, initialiser and command-line option it names in
# sections 3, 4, 6, 7 and 8 (and the train settings of section 9) occurs as a whole word in a
# test, a golden file or a model that the tests check. Section 9's other additions (reverse,
# reset_after, the ONNX activations, --state-in) are being built on other branches and are not
# checked here until they exist.
set -u
src=${top_srcdir:-.}
doc="$src/doc/LANGUAGE.md"
[ -r "$doc" ] || { echo "FAIL: no $doc"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/recur-doc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The text the tests run: scripts, C tests, golden inputs and models.
find "$src/tests" "$src/models" -type f \( -name '*.sh' -o -name '*.c' -o -name '*.rnn' -o -name '*.expected' -o \
     -name '*.py' \) ! -name 'doc_language.sh' -exec cat {} + > "$tmp/corpus"
# The sections checked: 3, 4, 6, 7, 8 (5 is the prelude's equations, checked against PyTorch by
# the kernel tests), and the train-settings bullet of section 9.
awk '/^## 3\./ { on = 1 } /^## 5\./ { on = 0 } /^## 6\./ { on = 1 }
     /^## 9\./ { on = 0; nine = 1 } on { print } nine && /`train` settings:/ { print }' \
  "$doc" > "$tmp/sections"
# Backticked spans -> identifiers (two letters or more, lower case) and --options.
grep -o '`[^`]*`' "$tmp/sections" | tr -d '`' > "$tmp/spans"
grep -o -- '--[a-z][a-z-]*' "$tmp/spans" | sort -u > "$tmp/options"
sed 's/--[a-z][a-z-]*//g' "$tmp/spans" | grep -o '[A-Za-z_][A-Za-z0-9_]*' | awk 'length($0) >= 2 && /^[a-z_]/' |
  sort -u > "$tmp/words"
# Words of the notation, not of the language: the tensor-name patterns and placeholders.
stop=' label param weight_ih_l weight_hh_l bias_ih_l bias_hh_l kind file line col message
  in ckpt load_state_dict strict '
missing=0
n=0
while read -r w; do
  case "$stop" in *" $w "*) continue ;; esac
  n=$((n + 1))
  grep -qw -- "$w" "$tmp/corpus" || { echo "not exercised by any test: $w"; missing=$((missing + 1)); }
done < "$tmp/words"
while read -r o; do
  n=$((n + 1))
  grep -q -- "$o" "$tmp/corpus" || { echo "not exercised by any test: $o"; missing=$((missing + 1)); }
done < "$tmp/options"
[ "$n" -gt 80 ] || { echo "FAIL: only $n names found in $doc: did its layout change?"; exit 1; }
[ "$missing" = 0 ] || { echo "FAIL: $missing of the $n names doc/LANGUAGE.md lists are untested"; exit 1; }
echo "PASS: all $n names doc/LANGUAGE.md lists (sections 3-8, section 9's train settings) occur in tests"
