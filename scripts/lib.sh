# shellcheck shell=bash
# The build as Dockerfile.multi does it, for the scripts that measure the binary (bench/run.sh,
# scripts/size-report.sh): not test harness, which is tests/common.sh.
#   source scripts/lib.sh     (from the repository's top directory)

# host_target: the target triple of this machine's Rust toolchain (x86_64-unknown-linux-gnu).
host_target() {
    rustc -vV | sed -n 's/^host: //p'
}

# static_build TARGET_DIR [CARGO ARGS...]: builds whod as Dockerfile.multi does (release, fully
# static, for the host's own target) into TARGET_DIR, then prints the binary's path.
# EXTRA_RUSTFLAGS adds compiler flags (scripts/size-report.sh tries non-PIE with it).
static_build() {
    local target_dir=$1 host
    shift
    host=$(host_target)
    RUSTFLAGS="${EXTRA_RUSTFLAGS:-} -C target-feature=+crt-static" \
        cargo build --release --locked -q --target "$host" --target-dir "$target_dir" "$@"
    echo "$target_dir/$host/release/whod"
}
