#!/bin/sh
# golden_syntax.sh: the syntax golden tests (tests/golden/syntax) through tests/golden_parse.
srcdir=${top_srcdir:-$(dirname "$0")/..}
builddir=${top_builddir:-.}
exec "$srcdir/tests/golden.sh" syntax "$builddir/tests/golden_parse"
