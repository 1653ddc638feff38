#!/bin/sh
# run_h5.sh SECONDS: libFuzzer on the Keras .h5 reader (tests/fuzz/fuzz_h5, built with
# --enable-fuzz), seeded with tests/fixtures/keras; run from the top of a fuzz build by .ci/run.
#
# libhdf5 1.10.8 itself is not robust against malformed files: it over-reads a heap buffer in
# strdup (H5Aexists -> attribute decode of an unterminated name), asks malloc for terabytes
# (H5C_protect), leaks on a failed H5Fopen and can loop for ever reading a variable-length
# string from a damaged global heap (inputs in tests/fuzz/h5-libhdf5-bugs/). So the fuzzer
# runs in fork mode and goes on past crashes and timeouts; then every artifact is run again
# alone and its report read: it fails this script only when the innermost frame that is either
# libhdf5 or a source file is recur's own code (src/, tests/fuzz/fuzz_h5.c). Huge allocations
# return NULL (allocator_may_return_null) instead of aborting, as malloc does without ASan.
set -u
secs=${1:-30}
export ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=1536
rm -rf fuzz-h5 && mkdir -p fuzz-h5/corpus fuzz-h5/art
cp "${top_srcdir:-.}"/tests/fixtures/keras/*.h5 fuzz-h5/corpus/
./tests/fuzz/fuzz_h5 -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -max_total_time="$secs" -max_len=32768 -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 \
  -artifact_prefix=fuzz-h5/art/ fuzz-h5/corpus > fuzz-h5/log 2>&1
grep -q "INFO: exiting" fuzz-h5/log || { tail -20 fuzz-h5/log; echo "fuzz_h5 did not run"; exit 1; }
ours=0 theirs=0
for a in fuzz-h5/art/*; do
  [ -f "$a" ] || continue
  timeout 120 ./tests/fuzz/fuzz_h5 -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 "$a" \
    > fuzz-h5/one 2>&1 && continue
  frame=$(grep -E '^ *#[0-9]+ ' fuzz-h5/one |
          grep -E 'libhdf5|/src/[a-z]+/[A-Za-z0-9_]+\.c:[0-9]+|/tests/fuzz/fuzz_h5\.c:[0-9]+' | head -1)
  case "$frame" in
    *libhdf5*) theirs=$((theirs + 1)) ;;
    *) ours=$((ours + 1)); echo "fuzz_h5: $a fails in recur's code:"; head -40 fuzz-h5/one ;;
  esac
done
echo "fuzz: ${secs} s on the Keras .h5 reader; $theirs input(s) stopped inside libhdf5 itself, $ours in recur"
[ "$ours" = 0 ]
