#!/usr/bin/env bash
# Installs what building and testing distcc-rs needs on a Debian 12 machine: compilers (gcc-11
# beside the default gcc-12, and clang: the compiler identity tests need a second compiler),
# build tools, Debian's distcc 3.4 (the interop peer), sshd, iproute2 and chromium (the
# dashboard test drives it headless), and for the packaging tests groff and man-db (man pages),
# systemd (systemd-socket-activate, systemd-analyze), binutils (strip), zsh and fish
# (completions), dnsmasq-base (the DNS SRV discovery test runs its own dnsmasq in a
# network namespace; dnsmasq-base is the program without the system service), and
# avahi-daemon and dbus (the zeroconf interop tests run them in private namespaces; the
# services the packages enable are not needed), tcpdump and openssl (the TLS tests capture
# loopback traffic; bench/tls.py makes its certificates with openssl), and postgresql-15 (the
# REAPI tests run BuildGrid over their own cluster; the packaged service is not used), then
# BuildGrid 0.9.1 itself in a venv of Python 3.13 under ~/.cache (scripts/buildgrid.sh
# install: once per machine, reused after). Idempotent.
set -euo pipefail
packages=(gcc g++ gcc-11 clang make cmake pkg-config python3 distcc distcc-pump ccache openssh-server openssh-client iproute2 procps chromium dnsmasq-base avahi-daemon dbus
    groff man-db systemd binutils gzip zsh fish tcpdump openssl postgresql-15)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    # The tests run their own avahi-daemon inside network namespaces; the system service
    # the package would start announces this machine on every network. While installing,
    # a policy-rc.d (unless one exists) tells the packages not to start services.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || { [ -z "$policy" ] || $sudo rm -f "$policy"; exit 1; }
    [ -z "$policy" ] || $sudo rm -f "$policy"
fi
if ! command -v cargo >/dev/null; then
    echo "error: cargo is not installed; install a Rust toolchain (1.88 or newer) first" >&2
    exit 1
fi
# The REAPI engine for tests/interop/reapi.rs: a no-op when the venv is already there.
bash "$(dirname "$0")/buildgrid.sh" install
