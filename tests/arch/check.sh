#!/bin/sh
# arch/check.sh: the architecture's measurable rules (issue 7), checked on src/ as it stands:
#   1. no function longer than 90 lines (brace-at-column-0 functions, as the house style writes them);
#   2. no include circle between files of src/;
#   3. each layer-kind constant IR_LAYER_<KIND> named in at most 3 files of src/;
#   4. each op constant IR_OP_<NAME> named in at most 2 files of src/ besides ops.def, except the
#      leaves and structural ops that sema builds and the interpreter walks (listed below).
# Prints what it measured and every breach; exits 1 on a breach.
set -eu
src="${top_srcdir:-.}/src"
fail=0
MAX_LINES=90
MAX_LAYER_FILES=3
MAX_OP_FILES=2

files=$(find "$src" -name '*.[ch]' ! -name '*.pb-c.*' ! -name 'prelude_text.c' | sort)

# 1. Function lengths: from a "{" in column 0 to the next "}" in column 0.
long=$(for f in $files; do
  awk -v f="$f" -v max=$MAX_LINES '
    /^\{/ { start = NR; name = prev }
    /^\}/ && start { n = NR - start + 1; if (n > max) printf "%s:%d: %d lines: %s\n", f, start, n, name; start = 0 }
    { prev = $0 }' "$f"
done)
longest=$(for f in $files; do
  awk '/^\{/ { s = NR } /^\}/ && s { n = NR - s + 1; if (n > m) m = n; s = 0 } END { print m + 0 }' "$f"
done | sort -n | tail -1)
echo "longest function in src/: $longest lines (limit $MAX_LINES)"
if [ -n "$long" ]; then echo "$long"; fail=1; fi

# 2. Include circles: a depth-first search over the include graph of src/ (quoted includes).
circles=$(for f in $files; do
  rel=${f#"$src"/}
  sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
    while read -r inc; do [ -f "$src/$inc" ] && echo "$rel $inc"; done
done | awk '
  { edge[$1] = edge[$1] " " $2; node[$1]; node[$2] }
  function visit(u,   n, i, v, vs) {
    state[u] = 1; stack[++depth] = u
    n = split(edge[u], vs, " ")
    for (i = 1; i <= n; i++) {
      v = vs[i]
      if (state[v] == 1) { path = v; for (k = depth; k >= 1 && stack[k] != v; k--) path = stack[k] " -> " path; print "circle: " v " -> " path }
      else if (!state[v]) visit(v)
    }
    depth--; state[u] = 2
  }
  END { for (u in node) if (!state[u]) visit(u) }')
echo "include circles in src/: $(printf '%s' "$circles" | grep -c . || true)"
if [ -n "$circles" ]; then echo "$circles"; fail=1; fi

# 3. Layer kinds: in how many files each IR_LAYER_<KIND> constant is named.
kinds=$(sed -n 's/^[[:space:]]*X(\([A-Z_]*\),.*/\1/p' "$src/ir/ir.h")
worst=0
for k in $kinds; do
  n=$(grep -lw "IR_LAYER_$k" $files | wc -l)
  [ "$n" -gt "$worst" ] && worst=$n
  if [ "$n" -gt $MAX_LAYER_FILES ]; then
    echo "IR_LAYER_$k is named in $n files (limit $MAX_LAYER_FILES):" $(grep -lw "IR_LAYER_$k" $files); fail=1
  fi
done
echo "layer-kind constants: at most $worst files each (limit $MAX_LAYER_FILES)"

# 4. Ops: in how many files of src/ (besides ops.def) each IR_OP_<NAME> constant is named.
STRUCTURAL="INPUT STATE PARAM CONST MATVEC CONCAT SLICE"
ops=$(sed -n 's/^IR_OP(\([A-Z_0-9]*\),.*/\1/p' "$src/ir/ops.def")
worst=0
for o in $ops; do
  n=$(grep -lw "IR_OP_$o" $files | wc -l)
  case " $STRUCTURAL " in *" $o "*) continue ;; esac
  [ "$n" -gt "$worst" ] && worst=$n
  if [ "$n" -gt $MAX_OP_FILES ]; then
    echo "IR_OP_$o is named in $n files (limit $MAX_OP_FILES):" $(grep -lw "IR_OP_$o" $files); fail=1
  fi
done
echo "ops ($(echo $ops | wc -w) in ops.def): each non-structural op named in at most $worst files (limit $MAX_OP_FILES)"
exit $fail
