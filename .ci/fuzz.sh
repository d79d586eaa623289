#!/usr/bin/env bash
# Runs every cargo-fuzz target (those of fuzz/Cargo.toml) for a fixed time,
# each from its seeds (fuzz/seeds/<target>/) copied into a fresh corpus, and
# prints the executions and coverage of each. Fails (after running them all)
# if any target finds a crash, leak, timeout or out-of-memory, and prints the
# reproducer. Installs what it needs (nightly, cargo-fuzz); safe to run again.
#
#   FUZZ_SECONDS=30    time per target, in seconds
#   FUZZ_TARGETS="…"   run only these targets (space-separated)
#   FUZZ_ARGS="…"      more libFuzzer options, e.g. "-jobs=2 -workers=2"
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

seconds="${FUZZ_SECONDS:-30}"
fuzz_dir=fuzz
work="$fuzz_dir/target/ci"  # git-ignored: corpora and logs of the last run

SECONDS=0
step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "toolchain"
if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
cargo +nightly --version
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cargo +nightly fuzz --version

# Build and run with the same options, so that `run` does not rebuild.
# Debug assertions (and with them overflow checks) on: a fuzz build should
# catch what a debug build would.
build_opts=(--fuzz-dir "$fuzz_dir" --debug-assertions)

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir "$fuzz_dir")
fi
if ((${#targets[@]} == 0)); then
    echo "no fuzz targets in $fuzz_dir/Cargo.toml" >&2
    exit 1
fi

step "build ${targets[*]}"
for target in "${targets[@]}"; do
    cargo +nightly fuzz build "${build_opts[@]}" "$target"
done

failed=()
summary=()
for target in "${targets[@]}"; do
    step "fuzz $target for ${seconds}s"
    corpus="$work/corpus/$target"
    log="$work/$target.log"
    rm -rf "$corpus"
    mkdir -p "$corpus" "$fuzz_dir/artifacts/$target"
    if [[ -d "$fuzz_dir/seeds/$target" ]]; then
        cp -R "$fuzz_dir/seeds/$target/." "$corpus/"
    fi
    echo "seeds: $(find "$corpus" -type f | wc -l) from $fuzz_dir/seeds/$target"
    before="$(ls -A "$fuzz_dir/artifacts/$target")"

    # libFuzzer's output goes to the log; the terminal gets all but the
    # per-input NEW/REDUCE lines.
    rc=0
    # shellcheck disable=SC2086  # FUZZ_ARGS is a list of options
    cargo +nightly fuzz run "${build_opts[@]}" "$target" "$corpus" -- \
        -max_total_time="$seconds" \
        -dict="$fuzz_dir/sse.dict" \
        -rss_limit_mb=2048 \
        -timeout=10 \
        -print_final_stats=1 \
        ${FUZZ_ARGS:-} \
        >"$log" 2>&1 || rc=$?
    grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE) ' "$log" | tail -n 200

    # (A crash while loading the seeds leaves no coverage line.)
    execs="$( (grep -o 'stat::number_of_executed_units: [0-9]*' "$log" || true) |
        tail -n 1 | awk '{print $2}')"
    cov="$( (grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|INITED)' "$log" || true) | tail -n 1 |
        (grep -o -E '(cov|ft|corp): [^ ]+' || true) | paste -sd' ' -)"
    if ((rc != 0)); then
        failed+=("$target")
        summary+=("$target: FAILED (exit $rc) after ${execs:-?} executions; log $log")
        echo
        echo "!! $target failed (exit $rc). Reproducer(s):"
        grep -o -E 'Test unit written to [^ ]+' "$log" | sort -u || true
        comm -13 <(printf '%s\n' "$before" | sort) \
            <(ls -A "$fuzz_dir/artifacts/$target" | sort) |
            sed "s|^|  $fuzz_dir/artifacts/$target/|"
        echo "Reproduce: cargo +nightly fuzz run ${build_opts[*]} $target <reproducer>"
        echo "Minimise:  cargo +nightly fuzz tmin ${build_opts[*]} $target <reproducer>"
        echo "Then make it a test in sse-codec-tests/tests/ ($fuzz_dir/README.md)."
    else
        summary+=("$target: ${execs:-?} executions in ${seconds}s; $cov")
    fi
done

step "summary"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
    echo "fuzzing failed: ${failed[*]}" >&2
    exit 1
fi
