#!/usr/bin/env bash
# What the static whod is made of, and what each release-profile setting is worth: builds the
# static binary with one setting changed at a time, then sorts the symbols of an unstripped
# build by origin. About a minute. `make size-report`.
# shellcheck source=tests/common.sh
source "$(dirname "$0")/../tests/common.sh"
set -e
source scripts/lib.sh
host=$(host_target)
builds=${TMPDIR:-/tmp}/who-size-report # kept: the next report builds on it
variant() { # variant NAME [VAR=VALUE...]: a static release build with those overrides
    local name=$1 binary
    shift
    binary=$(env "$@" bash -c 'source scripts/lib.sh && static_build "$0"' "$builds/$name")
    printf '  %-44s %9d bytes\n' "$name" "$(stat -c %s "$binary")"
}

echo "static $host builds, one setting changed at a time:"
variant "as shipped (Cargo.toml release profile)"
variant "strip = false" CARGO_PROFILE_RELEASE_STRIP=false
variant "lto = false, codegen-units = 16" CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
variant "panic = unwind" CARGO_PROFILE_RELEASE_PANIC=unwind
variant "opt-level = 3" CARGO_PROFILE_RELEASE_OPT_LEVEL=3
variant "opt-level = s" CARGO_PROFILE_RELEASE_OPT_LEVEL=s
EXTRA_RUSTFLAGS="-C relocation-model=static" variant "non-PIE (no ASLR)"

echo
echo "where the bytes of the unstripped build go, by symbol origin:"
nm -S -C "$builds/strip = false/$host/release/whod" | python3 -c '
import re, sys, collections
rules = [
    ("glibc: per-CPU string function variants (AVX2, EVEX, SSE...)", r"^_*(mem|str|stp|wmem|wcs|rawmemchr)\w*_(avx|evex|sse|erms|ssse3)"),
    ("std: backtrace printing (gimli, addr2line, miniz_oxide, rustc_demangle)", r"gimli|addr2line|miniz|rustc_demangle|backtrace|symboliz|object::"),
    ("whod: our code", r"(^|[<( &])whod::"),
    ("Rust: std, core, alloc", r"::"),
    ("glibc: stdio, printf, strtod, locale, iconv", r"printf|scanf|strto|mpn|wcs|mbs|mbrtowc|wcrtomb|iconv|gconv|locale|_nl_|ctype|collat|translit|_IO_|tens"),
    ("glibc: loader (static-pie relocation, dlopen for NSS), TLS, malloc, threads", r"dl_|_dl|elf|tls|tunable|malloc|arena|tcache|_int_|free|pthread"),
]
sums, modules = collections.Counter(), collections.Counter()
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    size, name = int(parts[1], 16), parts[3].strip()
    label = next((label for label, pattern in rules if re.search(pattern, name)), "glibc: other")
    sums[label] += size
    # Its first whod path: a function of that module, or std code made for one of its types;
    # a function right under whod:: is src/main.rs.
    module = re.search(r"(?:^|[<( &])whod::(\w+)(::)?", name)
    if module and label.startswith("whod"):
        modules[module.group(1) if module.group(2) else "main.rs"] += size
total = sum(sums.values())
for label, size in sums.most_common():
    print(f"  {size:9,d}  {100 * size / total:4.1f}%  {label}")
print(f"  {total:9,d}  in all, text and data; the file adds unwind tables and PIE relocations")
print()
print("whod\x27s own code by module (what each feature costs; LTO inlines across modules, so code")
print("inlined into its caller counts there: the request path mostly under server and http):")
for module, size in modules.most_common():
    print(f"  {size:9,d}  {100 * size / sum(modules.values()):4.1f}%  {module}")
print(f"  {sum(modules.values()):9,d}  in all")
'
