#!/usr/bin/env bash
# CI step (docs/robustness.md): build the five libFuzzer targets with clang
# and run each for a bounded time on a copy of its seed corpus, then run a
# subset of the tests (the gcc build in build/ that .ci/run made) under
# valgrind's memcheck. About 4 to 6 minutes in all. FUZZ_SECONDS overrides the
# time per fuzzer (20 here: four fuzzers, and CI took 913 s with 30 each on a
# loaded host, over its 15 minutes; the longer local run in the doc used 300).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The fuzzers: library and targets instrumented for coverage, ASan + UBSan.
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCOLCONV_FUZZ=ON -DBUILD_TESTING=OFF \
    -DCOLCONV_BUILD_BENCH=OFF -DCOLCONV_BUILD_TOOLS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build-fuzz -j2 > /dev/null

for name in conv weights desc plans onnx; do
    mkdir -p "$work/$name" "$work/artifacts-$name"
    echo "robustness: fuzz_$name for ${FUZZ_SECONDS}s"
    # One thread per run inside the fuzzer is its own choice (the input picks 1 or 2).
    if ! ./build-fuzz/fuzz/fuzz_$name -max_total_time="$FUZZ_SECONDS" -timeout=30 \
            -rss_limit_mb=4096 -print_final_stats=1 \
            -artifact_prefix="$work/artifacts-$name/" \
            "$work/$name" "fuzz/corpus/$name" > "$work/fuzz_$name.log" 2>&1; then
        tail -n 60 "$work/fuzz_$name.log"
        for crash in "$work/artifacts-$name"/*; do
            if [ -e "$crash" ]; then
                echo "reproducer: $crash ($(base64 -w0 "$crash"))"
            fi
        done
        echo "robustness: fuzz_$name failed"
        exit 1
    fi
    # grep's status 1 (no such line) is fine; 2 (an unreadable log) is not.
    grep -E "^stat::number_of_executed_units|^Done" "$work/fuzz_$name.log" || [ $? = 1 ]
done

# valgrind memcheck on tests that cover the error paths. AVX-512 is beyond
# valgrind 3.19, and it does not emulate FTZ/DAZ (the denormal tests skip).
export COLCONV_MAX_ISA=avx2 OPENBLAS_CORETYPE=Haswell OMP_WAIT_POLICY=passive \
    COLCONV_TEST_NO_DAZ=1
for test in test_robust_inputs test_robust_ieee test_net_weights; do
    echo "robustness: valgrind $test"
    if ! valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --show-leak-kinds=definite "./build/tests/$test" > "$work/valgrind_$test.log" 2>&1; then
        cat "$work/valgrind_$test.log"
        echo "robustness: valgrind found errors in $test"
        exit 1
    fi
done
echo "robustness: all passed"
