#!/usr/bin/env bash
# `make fuzz`: runs each fuzz target for SECONDS (default 60) with cargo fuzz on nightly, on
# inputs up to 20000 bytes (past the 8 KiB and 16 KiB limits; websocket_frames: 70000, for its
# 64 KiB frame), starting from the committed
# seeds (fuzz/seeds*/) and the corpus of earlier runs (fuzz/corpus/, not committed). A crash
# stops the run and leaves its input in fuzz/artifacts/: turn it into a unit test beside the
# code, then fix it.
#   fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz: needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz: installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked
fi
# seed TARGET [--split] DIR...: copies the seeds in each DIR into TARGET's corpus; with --split,
# each gets a leading 0 (no split points: the input whole), as the split targets read it.
seed() {
    local target=$1 split="" dir file
    shift
    [ "$1" != --split ] || { split=1; shift; }
    mkdir -p "corpus/$target"
    for dir in "$@"; do
        for file in "$dir"/*; do
            if [ -n "$split" ]; then
                printf '\0' | cat - "$file" >"corpus/$target/seed-$(basename "$file")"
            else
                cp "$file" "corpus/$target/seed-$(basename "$file")"
            fi
        done
    done
}
seed parse_whole seeds
seed parse_split --split seeds
seed differential --split seeds
seed echo_json seeds seeds-echo
seed proxy_header seeds-proxy # these seeds already start with their split count
seed websocket_frames seeds-websocket # these too
for target in parse_whole parse_split differential echo_json proxy_header websocket_frames; do
    echo "fuzz: $target for ${seconds}s"
    max_len=20000
    [ "$target" != websocket_frames ] || max_len=70000
    cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len="$max_len" 2>&1 \
        | grep -E '^(#[0-9]+ *(DONE|INITED)|Done|==|SUMMARY|thread|panicked|.*Test unit written)' || true
    # cargo fuzz's own exit status is lost in the pipe: a crash leaves an artifact.
    if compgen -G "artifacts/$target/crash-*" >/dev/null; then
        echo "fuzz: $target crashed; inputs in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "fuzz: no crash in ${seconds}s per target"
