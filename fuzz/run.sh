#!/usr/bin/env bash
# Run every fuzz target for N seconds (default 60) and print one line per target:
# seconds fuzzed (and wall clock), executions (libFuzzer's stat::number_of_executed_units), crashes.
# Exits non-zero if any target crashed (panic, ASan report, OOM or timeout).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Env: SANITIZER (address|none, default address), CARGO_TARGET_DIR (default /work/target-fuzz),
#      UNIT_TIMEOUT (libFuzzer -timeout, seconds per input, default 25).
# Works on the stable toolchain through RUSTC_BOOTSTRAP=1 (see README.md).
# New corpus entries go to fuzz/corpus-work/<target>/ (not committed); the seeds in
# fuzz/corpus/<target>/ are only read. Crash inputs land in fuzz/artifacts/<target>/,
# logs in fuzz/logs/<target>.log.
set -uo pipefail

cd "$(dirname "$0")"
SECS="${1:-60}"
shift || true
ALL_TARGETS=(twilio generic vonage telnyx aircall plivo phone_classify sms_segments account_from_json sealed_decode)
TARGETS=("${@:-${ALL_TARGETS[@]}}")
SANITIZER="${SANITIZER:-address}"
UNIT_TIMEOUT="${UNIT_TIMEOUT:-25}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-fuzz}"
export RUSTC_BOOTSTRAP=1          # cargo-fuzz passes -Z flags; stable accepts them with this
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

python3 seed.py >/dev/null || { echo "seed.py failed" >&2; exit 2; }

echo "building ${#TARGETS[@]} target(s), sanitizer=$SANITIZER ..." >&2
mkdir -p logs
one=()
[ "${#TARGETS[@]}" -eq 1 ] && one=("${TARGETS[0]}")   # cargo fuzz build takes one target or all
if ! cargo fuzz build -s "$SANITIZER" --target-dir "$CARGO_TARGET_DIR" "${one[@]}" >logs/build.log 2>&1; then
    tail -30 logs/build.log >&2; echo "build failed" >&2; exit 2
fi

BIN="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
# The binaries are run directly (not through `cargo fuzz run`), so that every target fuzzes
# the same build even if ../shared changes meanwhile. Same ASan options as cargo-fuzz.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"
echo "library: $(git -C .. rev-parse --short HEAD 2>/dev/null || echo '?')," \
     "$(git -C .. status --porcelain -- shared 2>/dev/null | wc -l) uncommitted change(s) under shared/ at build time" >&2

failed=0
rows=()
details=()
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus-work/$t" "corpus/$t" "artifacts/$t"
    before=$(ls "artifacts/$t" | sort)
    log="logs/$t.log"
    start=$(date +%s.%N)
    "$BIN/$t" -artifact_prefix="$PWD/artifacts/$t/" \
        -max_total_time="$SECS" -print_final_stats=1 -timeout="$UNIT_TIMEOUT" \
        "corpus-work/$t" "corpus/$t" >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.0f", b-a}')
    # fuzzing time as libFuzzer reports it ("Done N runs in S second(s)"), else wall clock
    secs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | awk '{print $5}')
    [ -n "$secs" ] || secs="$wall"
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$')
    [ -n "$execs" ] || execs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    [ -n "$execs" ] || execs="?"
    rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$')
    corpus=$(ls "corpus-work/$t" | wc -l)
    new=$(comm -13 <(echo "$before") <(ls "artifacts/$t" | sort) | grep -v '^$' || true)
    crashes=$(printf '%s' "$new" | grep -c . || true)
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes="rc=$rc"; fi
    if [ "$rc" -ne 0 ] || [ "$new" != "" ]; then
        failed=1
        for a in $new; do
            msg=$(grep -m1 -A1 -E "panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer" "$log" | tr '\n' ' ')
            details+=("$t: artifacts/$t/$a ($(stat -c %s "artifacts/$t/$a") bytes)"
                      "    message: $msg"
                      "    hex: $(xxd -p "artifacts/$t/$a" | tr -d '\n' | head -c 2000)")
        done
    fi
    rows+=("$(printf '%-18s %8s %6s %12s %10s %8s %8s' "$t" "$secs" "$wall" "$execs" "${rate:-?}" "$corpus" "$crashes")")
    echo "  $t: ${secs}s, $execs execs, crashes: $crashes" >&2
done

echo
printf '%-18s %8s %6s %12s %10s %8s %8s\n' target seconds wall executions execs/s corpus crashes
printf '%s\n' "${rows[@]}"
if [ "${#details[@]}" -gt 0 ]; then
    echo
    echo "crashes:"
    printf '%s\n' "${details[@]}"
fi
exit "$failed"
