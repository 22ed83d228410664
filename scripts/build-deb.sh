#!/usr/bin/env bash
# Builds the Debian package of distcc-rs with dpkg-deb (no cargo-deb needed):
#   bash scripts/build-deb.sh                  # release build, then target/debian/*.deb
#   bash scripts/build-deb.sh --bin-dir DIR    # package binaries already built in DIR
#   bash scripts/build-deb.sh --out DIR        # write the .deb into DIR
# It holds the programs, the two helpers, man pages, bash/zsh/fish completions, the
# systemd units and the settings template. It replaces Debian's distcc and distcc-pump
# (Conflicts/Replaces/Provides); to keep those, install with scripts/install.sh instead.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=
out=target/debian
need_value() {
    [ $# -ge 2 ] && [ -n "$2" ] || { echo "build-deb.sh: $1 needs a value" >&2; exit 2; }
}
while [ $# -gt 0 ]; do
    case $1 in
    --bin-dir) need_value "$@"; bin_dir=$2; shift 2 ;;
    --out) need_value "$@"; out=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb.sh: $1: unknown argument" >&2; exit 2 ;;
    esac
done
for tool in dpkg-deb gzip strip objdump; do
    command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool is missing (apt-get install dpkg-dev binutils gzip)" >&2; exit 1; }
done

programs=(distcc distccd lsdistcc distccmon-text distcc-farm distcc-coordinator distcc-zeroconf distcc-reapi pump include-server)
if [ -z "$bin_dir" ]; then
    cargo build --release --locked --bins
    bin_dir=${CARGO_TARGET_DIR:-target}/release
fi
for p in "${programs[@]}"; do
    [ -x "$bin_dir/$p" ] || { echo "build-deb.sh: $bin_dir/$p is missing" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
mkdir -p "$out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/distcc-rs-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT

install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/sbin" "$stage/usr/libexec/distcc-rs" \
    "$stage/usr/share/man/man1" "$stage/usr/share/man/man8" "$stage/lib/systemd/system" \
    "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
    "$stage/usr/share/fish/vendor_completions.d" "$stage/usr/share/distcc-rs" \
    "$stage/usr/share/doc/distcc-rs"
for p in "${programs[@]}"; do
    install -m 755 "$bin_dir/$p" "$stage/usr/bin/$p"
    strip --strip-unneeded "$stage/usr/bin/$p"
done
install -m 755 dist/helpers/distcc-allowlist "$stage/usr/sbin/"
install -m 755 dist/helpers/distcc-masquerade "$stage/usr/bin/"
install -m 755 dist/helpers/distccd-service "$stage/usr/libexec/distcc-rs/"
install -m 644 dist/systemd/distccd.service dist/systemd/distccd.socket "$stage/lib/systemd/system/"
install -m 644 dist/default/distcc "$stage/usr/share/distcc-rs/default"
for page in dist/man/*.1 dist/man/*.8; do
    section=${page##*.}
    gzip -9n < "$page" > "$stage/usr/share/man/man$section/${page##*/}.gz"
done
for f in dist/completions/bash/*; do install -m 644 "$f" "$stage/usr/share/bash-completion/completions/"; done
for f in dist/completions/zsh/*; do install -m 644 "$f" "$stage/usr/share/zsh/vendor-completions/"; done
for f in dist/completions/fish/*; do install -m 644 "$f" "$stage/usr/share/fish/vendor_completions.d/"; done
gzip -9n < README.md > "$stage/usr/share/doc/distcc-rs/README.md.gz"
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: distcc-rs"
    echo
    echo "Files: *"
    echo "License: GPL-2.0-or-later"
    echo " On Debian systems, the full text is in /usr/share/common-licenses/GPL-2."
} > "$stage/usr/share/doc/distcc-rs/copyright"
for s in postinst prerm postrm; do install -m 755 "dist/debian/$s" "$stage/DEBIAN/$s"; done

# The shared libraries the binaries need: libc6 at the newest GLIBC_ symbol version any of
# them uses, and libgcc-s1 (the unwinder Rust's std links).
glibc=$(for p in "${programs[@]}"; do objdump -T "$stage/usr/bin/$p"; done |
    grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
[ -n "$glibc" ] || { echo "build-deb.sh: no GLIBC version found in the binaries" >&2; exit 1; }
depends="libc6 (>= $glibc)"
needed=$(for p in "${programs[@]}"; do objdump -p "$stage/usr/bin/$p"; done | awk '/NEEDED/ {print $2}')
if printf '%s\n' "$needed" | grep -q '^libgcc_s'; then
    depends="$depends, libgcc-s1"
fi

installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: distcc-rs
Version: $version
Architecture: $arch
Maintainer: distcc-rs developers <distcc-rs@localhost>
Installed-Size: $installed_size
Depends: $depends
Recommends: gcc | c-compiler
Suggests: systemd
Conflicts: distcc, distcc-pump
Replaces: distcc, distcc-pump
Provides: distcc, distcc-pump
Section: devel
Priority: optional
Description: distributed C/C++ compiler, a Rust re-implementation of distcc 3.4
 distcc-rs speaks distcc 3.4's protocols 1, 2 and 3 and uses its command lines,
 environment variables, lock and state files, so its client and server mix with
 3.4's. It adds a compiler allow-list without 3.4's holes, refusals explained to
 the client, a stats port with a live dashboard, a scheduler that learns host
 speed, and systemd socket activation and readiness notification.
CONTROL

deb="$out/distcc-rs_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
