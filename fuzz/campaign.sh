#!/usr/bin/env bash
# fuzz/campaign.sh: runs the cargo-fuzz targets one after another (one libFuzzer job at a time,
# at the lowest CPU priority), each until it has made RUNS executions or run SECONDS seconds,
# whichever comes first, and prints a table of executions, seconds, exec/s and crash files.
#
#   fuzz/campaign.sh [--runs N] [--time SECONDS] [--timeout SECONDS] [TARGET...]
#
# Defaults: every target, 10,000,000 runs, 3600 s, 30 s per input before libFuzzer calls it a
# timeout. Logs: fuzz/campaign/<target>.log (libFuzzer's own output) and
# fuzz/campaign/summary.tsv (one line per finished target). Crash, timeout and OOM inputs are
# kept by libFuzzer under fuzz/artifacts/<target>/; new corpus entries under fuzz/corpus/<target>/.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1 lets stable accept its flags.

set -u

runs=10000000
seconds=3600
timeout=30
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --time) seconds="$2"; shift 2 ;;
        --timeout) timeout="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done

cd "$(dirname "$0")" || exit 2
export RUSTC_BOOTSTRAP=1
# Allocations live at exit by design (see lsan.supp) are not reported as leaks.
export LSAN_OPTIONS="suppressions=$PWD/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
mkdir -p campaign
summary=campaign/summary.tsv
# Appended to, so campaigns run side by side (or one after another) keep every line.
[ -s "$summary" ] || printf 'target\texecutions\tseconds\texec/s\tfinished\tcrashes\tslow\n' > "$summary"
# `nice` orders processes within one scheduler group only; a campaign started in its own session
# (setsid, nohup from another terminal) is a group of its own and would get half the machine
# against a benchmark. Lowering the group's priority too makes it take only idle time.
echo 19 > /proc/self/autogroup 2>/dev/null || true

# Crashes, timeouts, leaks and out-of-memory inputs. Not slow units: libFuzzer writes one for
# any input that took over 10 s, which on a busy machine (a build beside the campaign) is the
# scheduler's doing; they are counted apart (`slow`), to be re-run alone.
crash_files() {
    find "artifacts/$1" -type f ! -name 'slow-unit-*' 2>/dev/null | wc -l
}

slow_files() {
    find "artifacts/$1" -type f -name 'slow-unit-*' 2>/dev/null | wc -l
}

for target in "${targets[@]}"; do
    log="campaign/$target.log"
    echo "== $target: building ($(date '+%F %T'))"
    if ! nice -n 19 cargo fuzz build "$target" > "$log" 2>&1; then
        echo "== $target: build failed, see fuzz/$log"
        printf '%s\t-\t-\t-\t%s\tbuild failed\n' "$target" "$(date '+%F %T')" >> "$summary"
        continue
    fi
    extra=()
    [ -f "dicts/$target.dict" ] && extra+=("-dict=dicts/$target.dict")
    before=$(crash_files "$target")
    echo "== $target: fuzzing, at most $runs runs or $seconds s ($(date '+%F %T')); progress: tail -f fuzz/$log"
    start=$(date +%s)
    nice -n 19 cargo fuzz run "$target" -- \
        -max_total_time="$seconds" -runs="$runs" -timeout="$timeout" -print_final_stats=1 "${extra[@]}" \
        >> "$log" 2>&1
    status=$?
    elapsed=$(( $(date +%s) - start ))
    # libFuzzer's own count; its last status line (#N ...) when it stopped on a crash.
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    [ -z "$execs" ] && execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    [ -z "$execs" ] && execs=0
    done_secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}')
    secs=${done_secs:-$elapsed}
    [ "$secs" -gt 0 ] 2>/dev/null && rate=$(( execs / secs )) || rate=$execs
    crashes=$(crash_files "$target")
    new=$(( crashes - before ))
    slow=$(slow_files "$target")
    echo "== $target: exit $status, $execs executions in $secs s, $new new crash file(s), $slow slow unit(s)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$execs" "$secs" "$rate" "$(date '+%F %T')" "$crashes" "$slow" \
        >> "$summary"
done

echo
echo "Campaign finished $(date '+%F %T') (crashes: files under fuzz/artifacts/<target>/)"
column -t -s $'\t' "$summary"
