#!/bin/sh
# golden_sema.sh: the semantic golden tests (tests/golden/sema) through tests/golden_check,
# which does what `recur check FILE` does.
srcdir=${top_srcdir:-$(dirname "$0")/..}
builddir=${top_builddir:-.}
exec "$srcdir/tests/golden.sh" sema "$builddir/tests/golden_check"
