#!/usr/bin/env bash
# Install what Fermion needs on Debian 12, then its Python environment in .venv.
#
# Idempotent and quick when everything is present: apt runs only for missing packages
# (and `apt-get update` only then), pip runs only when pyproject.toml is newer than
# .venv/.installed-stamp. Needs root for the apt part. Safe without a terminal (CI=true).
#
# Environment: PYTHON (default: python3 found on PATH), VENV (default: .venv).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.installed-stamp"

# Data plane (OVS, dnsmasq, haproxy, iptables, iproute2, ethtool, conntrack), instance
# tooling (busybox udhcpc, dhclient), debugging (tcpdump), the optional PostgreSQL backend
# (also used by the tests), basics the scripts and tests call, and iperf3 (`make bench`).
PACKAGES=(
  openvswitch-switch dnsmasq-base haproxy iptables iproute2 busybox ethtool conntrack
  tcpdump isc-dhcp-client postgresql curl procps iperf3
  iputils-arping  # the L3 agent's gratuitous ARP for new gateway/floating IP addresses
  cloud-init      # the real cloud-init: its reader checks the metadata service (tests), guests
  tini util-linux iputils-ping  # `fermion lab`: hosts' init (reaps orphans), unshare/nsenter, ping
)

say() { printf 'install-deps: %s\n' "$*"; }

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# python3 itself and its venv module (Debian splits venv/ensurepip into python3-venv;
# a pyenv or source-built python3 has them already).
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  PACKAGES+=(python3 python3-venv)
elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  PACKAGES+=(python3-venv)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  say "system packages present"
else
  if [ "$(id -u)" -ne 0 ]; then
    say "missing packages: ${missing[*]}" >&2
    say "run as root (or: sudo $0) to install them" >&2
    exit 1
  fi
  apt_get() { apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 "$@" </dev/null; }
  say "apt-get update (missing: ${missing[*]})"
  apt_get -qq update
  say "apt-get install ${missing[*]}"
  apt_get -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    install "${missing[@]}" >/dev/null
  say "system packages installed"
  # cloud-init is installed for its library and for guests, not to configure this machine:
  # when this script installed it, keep it from running at this host's next boot.
  if [[ " ${missing[*]} " == *" cloud-init "* ]]; then
    mkdir -p /etc/cloud && touch /etc/cloud/cloud-init.disabled
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $(command -v "$PYTHON")"
  "$PYTHON" -m venv "$VENV"
  rm -f "$STAMP"
fi

if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  say "pip install -e '.[test]' into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -e '.[test]'
  touch "$STAMP"
  say "python environment ready"
else
  say "python environment up to date"
fi
