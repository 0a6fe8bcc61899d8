#!/usr/bin/env bash
# Builds a stand-in for the official rust:1.95-slim-bookworm image without any registry:
# Debian bookworm by debootstrap (from this machine's own apt mirror), this machine's Rust
# toolchain (rustc, cargo, rust-std; no docs) under /usr/local, and the project's crates
# fetched into its CARGO_HOME, with CARGO_NET_OFFLINE=true. Then `docker import`.
#
#   scripts/rust-image-offline.sh [TAG]      (default who-rust:offline; needs root and Docker)
# shellcheck source=tests/common.sh
source "$(dirname "$0")/../tests/common.sh"
set -e

tag=${1:-who-rust:offline}
docker=$DOCKER

[ "$(id -u)" = 0 ] || { echo "rust-image-offline: debootstrap needs root" >&2; exit 1; }
for tool in debootstrap rustc cargo "$docker"; do
    command -v "$tool" >/dev/null || { echo "rust-image-offline: $tool is missing (apt-get install -y debootstrap docker.io)" >&2; exit 1; }
done

# The Debian mirror this machine's apt already uses (deb822 .sources first, then .list files).
mirror=$(awk '$1 == "URIs:" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "rust-image-offline: no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }

make_work rust-image /var/tmp # removed at exit
rootfs=$work/rootfs

echo "rust-image-offline: debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
# As slim images do: no docs, man pages, locales or package lists.
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
echo "rust-image-offline: toolchain $(rustc --version) ($host) from $sysroot"
install -d "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/rustlib"
install -m 0755 "$sysroot/bin/rustc" "$sysroot/bin/cargo" "$rootfs/usr/local/bin/"
cp -a "$sysroot"/lib/*.so* "$rootfs/usr/local/lib/"
# rust-std for the host, and its bin/ (rust-lld, the default linker on x86_64 Linux since 1.90).
cp -a "$sysroot/lib/rustlib/$host" "$rootfs/usr/local/lib/rustlib/"

echo "rust-image-offline: fetching the project's crates into CARGO_HOME"
CARGO_HOME="$rootfs/usr/local/cargo" cargo fetch --locked --manifest-path Cargo.toml >/dev/null

echo "rust-image-offline: importing as $tag"
tar -C "$rootfs" -c . | "$docker" import \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV CARGO_NET_OFFLINE=true' \
    --change "ENV RUST_VERSION=$(rustc --version | cut -d' ' -f2)" \
    --change 'CMD ["bash"]' \
    --message "stand-in for rust:1.95-slim-bookworm, built by scripts/rust-image-offline.sh" \
    - "$tag" >/dev/null
"$docker" image ls "$tag"
