#!/usr/bin/env bash
# Installs distcc-rs from this checkout, beside any distcc from Debian (which stays in /usr):
#   bash scripts/install.sh                      # cargo install into /usr/local, then the rest
#   bash scripts/install.sh --systemd            # also distccd.service/.socket in /etc/systemd/system
#   bash scripts/install.sh --prefix DIR         # another prefix (default /usr/local)
#   bash scripts/install.sh --bin-dir DIR        # take binaries already built in DIR
#   bash scripts/install.sh --destdir DIR        # stage under DIR (packaging, tests)
# Binaries go to PREFIX/bin (before /usr/bin on PATH, so ours run), helpers to PREFIX/bin and
# PREFIX/sbin, man pages to PREFIX/share/man (where man finds them), completions to the
# shells' PREFIX/share directories.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
bin_dir=
destdir=
systemd=0
need_value() {
    [ $# -ge 2 ] && [ -n "$2" ] || { echo "install.sh: $1 needs a value" >&2; exit 2; }
}
while [ $# -gt 0 ]; do
    case $1 in
    --prefix) need_value "$@"; prefix=$2; shift 2 ;;
    --bin-dir) need_value "$@"; bin_dir=$2; shift 2 ;;
    --destdir) need_value "$@"; destdir=$2; shift 2 ;;
    --systemd) systemd=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: $1: unknown argument" >&2; exit 2 ;;
    esac
done
case $prefix in /*) ;; *) echo "install.sh: --prefix must be absolute" >&2; exit 2 ;; esac

programs=(distcc distccd lsdistcc distccmon-text distcc-farm distcc-coordinator distcc-zeroconf distcc-reapi pump include-server)
root=$destdir$prefix
if [ -z "$bin_dir" ]; then
    # The checkout's own target directory: a later `cargo build --release` reuses the work.
    cargo install --locked --path . --root "$root" --no-track --target-dir "${CARGO_TARGET_DIR:-target}"
else
    install -d "$root/bin"
    for p in "${programs[@]}"; do install -m 755 "$bin_dir/$p" "$root/bin/$p"; done
fi
for p in "${programs[@]}"; do
    [ -x "$root/bin/$p" ] || { echo "install.sh: $root/bin/$p was not installed" >&2; exit 1; }
done
install -d "$root/sbin" "$root/libexec/distcc-rs" "$root/share/man/man1" "$root/share/man/man8" \
    "$root/share/bash-completion/completions" "$root/share/zsh/site-functions" \
    "$root/share/fish/vendor_completions.d"
install -m 755 dist/helpers/distcc-masquerade "$root/bin/"
install -m 755 dist/helpers/distcc-allowlist "$root/sbin/"
install -m 755 dist/helpers/distccd-service "$root/libexec/distcc-rs/"
install -m 644 dist/man/*.1 "$root/share/man/man1/"
install -m 644 dist/man/*.8 "$root/share/man/man8/"
install -m 644 dist/completions/bash/* "$root/share/bash-completion/completions/"
install -m 644 dist/completions/zsh/* "$root/share/zsh/site-functions/"
install -m 644 dist/completions/fish/* "$root/share/fish/vendor_completions.d/"
if [ "$systemd" = 1 ]; then
    units=$destdir/etc/systemd/system
    install -d "$units"
    # The units name /usr paths (the package's); point them at this prefix.
    sed -e "s|/usr/libexec/distcc-rs/|$prefix/libexec/distcc-rs/|g" \
        -e "s|^ExecStart=\(.*\)|Environment=DISTCCD=$prefix/bin/distccd\nExecStart=\1|" \
        dist/systemd/distccd.service > "$units/distccd.service"
    install -m 644 dist/systemd/distccd.socket "$units/distccd.socket"
    if [ ! -e "$destdir/etc/default/distcc" ]; then
        install -D -m 644 dist/default/distcc "$destdir/etc/default/distcc"
    fi
    if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
    fi
    echo "installed distccd.service and distccd.socket; set STARTDISTCC=\"true\" in /etc/default/distcc," \
         "stop Debian's distcc (systemctl disable --now distcc) and run: systemctl enable --now distccd" >&2
fi
echo "installed distcc-rs into $root; run $prefix/sbin/distcc-allowlist as root to list this machine's compilers for distccd" >&2
