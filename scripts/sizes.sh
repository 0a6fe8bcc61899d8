#!/usr/bin/env bash
# Prints the sizes of IMAGE:single and IMAGE:multi like `docker image ls`, their ratio, and a
# bar per image on a log scale, so the difference can be seen and not only read.
#   scripts/sizes.sh [IMAGE]     (default who)
# shellcheck source=tests/common.sh
source "$(dirname "$0")/../tests/common.sh"
set -e
image=${1:-$IMAGE}
docker=$DOCKER

size_of() { "$docker" image inspect -f '{{.Size}}' "$1"; }
base_of() { "$docker" image inspect -f '{{index .Config.Labels "who.build-image"}}' "$1"; }
single=$(size_of "$image:single")
multi=$(size_of "$image:multi")

awk -v image="$image" -v single="$single" -v multi="$multi" \
    -v base_single="$(base_of "$image:single")" -v base_multi="$(base_of "$image:multi")" '
function human(bytes,   units, i) {
    # Docker counts in powers of 1000 (MB, not MiB); three significant digits, as docker does.
    split("B kB MB GB TB", units, " ")
    for (i = 1; bytes >= 1000 && i < 5; i++) bytes /= 1000
    return sprintf(bytes >= 100 ? "%.0f%s" : bytes >= 10 ? "%.1f%s" : "%.2f%s", bytes, units[i])
}
function bar(bytes,   n, s) {
    # Ten marks per factor of ten, counted from 100 kB.
    n = int(10 * (log(bytes) / log(10) - 5) + 0.5)
    s = ""
    while (n-- > 0) s = s "#"
    return s
}
BEGIN {
    printf "%-12s %-8s %14s %10s\n", "REPOSITORY", "TAG", "SIZE (bytes)", "SIZE"
    printf "%-12s %-8s %14d %10s\n", image, "single", single, human(single)
    printf "%-12s %-8s %14d %10s\n", image, "multi", multi, human(multi)
    printf "\nsingle / multi = %.0fx: the multi-stage image is %.2f%% of the single-stage one\n\n", single / multi, 100 * multi / single
    printf "log scale, ten # per factor of ten from 100kB:\n"
    printf "  %-7s %s %s\n", "single", bar(single), human(single)
    printf "  %-7s %s %s\n\n", "multi", bar(multi), human(multi)
    printf "built from: %s (single), %s (multi build stage; the multi image itself is FROM scratch)\n", base_single, base_multi
}'
