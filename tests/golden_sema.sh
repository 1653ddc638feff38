#!/bin/sh
# golden_sema.sh: the semantic golden tests (tests/golden/sema) through the real `recur check`.
srcdir=${top_srcdir:-$(dirname "$0")/..}
builddir=${top_builddir:-.}
exec "$srcdir/tests/golden.sh" sema "$builddir/recur" check
