#!/usr/bin/env bash
# The checks that the published crates (sse-proto, sse-cat) can be
# published and used as declared. Installs what it needs; safe to run again.
#
# - `cargo package` of both (built from the packaged sources, as a user gets
#   them), and the size and file list of each package;
# - sse-proto with every feature combination CI knows, warnings denied;
# - its docs with all features and with none, warnings denied;
# - its declared MSRV: the packaged crate, resolved to dependency versions
#   that support that Rust (Cargo's MSRV-aware resolver), built with that
#   toolchain with every feature and with none.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

SECONDS=0
step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "cargo package (sse-proto, sse-cat), built from the packages"
# Both at once: sse-cat's dependency on sse-proto resolves to the package
# just made, not to the registry. Cargo unpacks that package into its home
# under a name that does not change between runs, and would reuse a stale
# copy from an earlier run of the same version: remove it first.
rm -rf target/package
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/sse-proto-[0-9]*
cargo package -p sse-proto -p sse-cat --allow-dirty
for crate in target/package/sse-proto-*.crate target/package/sse-cat-*.crate; do
    echo "$crate: $(stat -c %s "$crate") bytes compressed, files:"
    tar tzf "$crate" | sed 's|^[^/]*/|  |'
done

step "sse-proto in each feature combination, warnings denied"
# Its own target directory: RUSTFLAGS would otherwise rebuild the main one.
combos=(
    "--no-default-features"
    "--no-default-features --features alloc"
    ""
    "--no-default-features --features serde"
    "--no-default-features --features client"
    "--no-default-features --features reqwest"
    "--no-default-features --features hyper"
    "--no-default-features --features codec"
    "--no-default-features --features stream"
    "--no-default-features --features server"
    "--no-default-features --features axum"
    "--all-features"
)
for combo in "${combos[@]}"; do
    echo "-- cargo check -p sse-proto --lib --tests ${combo:-(default features)}"
    # shellcheck disable=SC2086  # combo is a list of flags
    RUSTFLAGS="-D warnings" CARGO_TARGET_DIR=target/features \
        cargo check -q -p sse-proto --lib --tests $combo
done

step "sse-proto docs with all features and with none, warnings denied"
RUSTDOCFLAGS="-D warnings" cargo doc -q -p sse-proto --no-deps --all-features
RUSTDOCFLAGS="-D warnings" CARGO_TARGET_DIR=target/doc-no-default \
    cargo doc -q -p sse-proto --no-deps --no-default-features

step "sse-proto on its declared MSRV"
msrv="$(tar xzf target/package/sse-proto-*.crate -O --wildcards '*/Cargo.toml' |
    sed -n 's/^rust-version = "\(.*\)"$/\1/p')"
echo "declared rust-version: $msrv"
rustup toolchain install "$msrv" --profile minimal >/dev/null 2>&1 ||
    rustup toolchain install "$msrv" --profile minimal
work=target/msrv
rm -rf "$work"
mkdir -p "$work"
tar xzf target/package/sse-proto-*.crate -C "$work"
crate_dir="$(echo "$work"/sse-proto-*)"
# A workspace of its own, and the newest dependency versions that declare
# support for the MSRV, as a user on that Rust would get with Cargo >= 1.84.
printf '\n[workspace]\n' >>"$crate_dir/Cargo.toml"
(cd "$crate_dir" &&
    CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo generate-lockfile -q &&
    cargo "+$msrv" build -q --all-features &&
    cargo "+$msrv" build -q --no-default-features &&
    cargo "+$msrv" build -q --no-default-features --features alloc)
echo "sse-proto builds with Rust $msrv: all features, none, alloc"

step "release checks passed"
