#!/bin/sh
# `recur graph` prints DOT that Graphviz accepts, for a model and for a cell with t-1 edges.
. "${top_srcdir:-.}/tests/cli/lib.sh"
command -v dot >/dev/null || { echo "graphviz (dot) is a test dependency: apt-get install graphviz" >&2; exit 1; }

for m in "$SRC"/models/*.rnn; do
  run_ok "$RECUR" graph --set vocab=65 --set classes=4 "$m"
  grep -q '^digraph' "$TMP/out" || fail "$m: output is not a digraph"
  dot -Tsvg "$TMP/out" > "$TMP/g.svg" 2> "$TMP/dot.err" || fail "dot rejects the graph of $m: $(cat "$TMP/dot.err")"
  grep -q '<svg' "$TMP/g.svg" || fail "no svg for $m"
done
run_ok "$RECUR" graph "$SRC/models/peephole.rnn" --cell peephole
grep -q 'dashed' "$TMP/out" || fail "t-1 edges are not drawn distinctly"
grep -q 't-1' "$TMP/out" || fail "t-1 edges are not labelled"
dot -Tsvg "$TMP/out" > "$TMP/c.svg" || fail "dot rejects the cell graph"
run_ok "$RECUR" graph --set vocab=65 "$SRC/models/charlm.rnn" --cell lstm
dot -Tsvg "$TMP/out" > "$TMP/l.svg" || fail "dot rejects the lstm cell graph"
run_status 1 "$RECUR" graph "$SRC/models/peephole.rnn" --cell nosuchcell
# a size left unbound is drawn at a placeholder, and the graph says which (on stderr only)
run_ok "$RECUR" graph "$SRC/models/charlm.rnn"
grep -q "charlm.rnn: note: 'vocab' is not bound, so the graph is drawn with vocab = 1000" "$TMP/err" ||
  fail "the placeholder vocab is not named"
grep -q "note" "$TMP/out" && fail "the note went into the DOT output"
run_ok "$RECUR" graph "$SRC/models/gru_classifier.rnn"
grep -q "'classes' is not bound" "$TMP/err" || fail "the placeholder classes is not named"
run_ok "$RECUR" graph --set vocab=65 "$SRC/models/charlm.rnn"
[ ! -s "$TMP/err" ] || fail "a note although vocab is bound"
pass
