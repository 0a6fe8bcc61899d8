# Shell functions shared by the bench, the size report and the test scripts:
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

# wrk_summary FILE: one line from wrk's output in FILE:
#   REQUESTS SOCKET_ERRORS NON_2XX REQUESTS_PER_SECOND P99_MICROSECONDS
# (errors are connect + read + write + timeout; p99 is 0 unless wrk ran with --latency).
wrk_summary() {
    awk '
        function us(v) { return v ~ /us$/ ? v + 0 : v ~ /ms$/ ? v * 1000 : v ~ /s$/ ? v * 1000000 : v }
        /requests in/ { requests = $1 }
        /Socket errors:/ { gsub(/[^0-9 ]/, " "); errors = $1 + $2 + $3 + $4 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = us($2) }
        END { printf "%d %d %d %.2f %.1f\n", requests, errors, non2xx, rps, p99 }
    ' "$1"
}

# free_port: a TCP port free on 127.0.0.1 now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
