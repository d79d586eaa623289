#!/usr/bin/env bash
# Mutation testing, a shard that fits CI: the mutants of the core's source
# lines changed since .ci/mutants.base (the commit at which mutants.md's
# records were last brought up to date; MUTANTS_BASE overrides it), at most MUTANTS_CAP of them (default 24), one deterministic
# shard chosen by HEAD's hash so that successive commits cover different
# ones. Fails on a missed mutant; a timeout (a mutant that makes a test hang)
# counts as caught, as in mutants.md. Installs cargo-mutants if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -q "$version"; then
    cargo install --locked cargo-mutants --version "$version"
fi

base="${MUTANTS_BASE:-$(tr -d '[:space:]' < .ci/mutants.base)}"
mkdir -p target
diff=target/mutants.diff
# The core's non-test sources only; tests and docs are not mutated.
git diff "$base" HEAD -- 'sse-core/src/' > "$diff"
if [[ ! -s "$diff" ]]; then
    echo "no core source changed since $base: no mutants to run"
    exit 0
fi

common=(-p sse-proto --test-package sse-proto --test-package sse-codec-tests
        --all-features --in-diff "$diff")
# Mutants recorded in mutants.md as equivalent (no test can tell them from
# the code) are left out: one regex a line, after the reason.
while IFS= read -r line; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    common+=(--exclude-re "$line")
done < .ci/mutants-equivalent.txt
count="$(cargo mutants "${common[@]}" --list | wc -l)"
cap="${MUTANTS_CAP:-24}"
shards=$(( (count + cap - 1) / cap ))
(( shards >= 1 )) || shards=1
shard=$(( 0x$(git rev-parse --short=7 HEAD) % shards ))
echo "$count mutants in the lines changed since $base; running shard $shard/$shards"

status=0
cargo mutants "${common[@]}" -j 2 --timeout 90 --shard "$shard/$shards" \
    --sharding round-robin -o target/mutants-ci || status=$?
# 0: all caught; 3: some timed out (caught by hanging), none missed.
case "$status" in
    0|3) echo "mutants: none missed" ;;
    *) echo "mutants: missed (see target/mutants-ci/mutants.out/missed.txt):"
       cat target/mutants-ci/mutants.out/missed.txt 2>/dev/null || true
       exit "$status" ;;
esac
