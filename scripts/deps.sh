#!/usr/bin/env bash
# Installs what ustack needs to build, test, demo and benchmark, from Debian's
# packages only. Quiet and quick when everything is already there.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libcriterion-dev libpcap-dev libsodium-dev
  tcpdump tshark iproute2 iputils-ping python3 python3-scapy
  libxml2-utils curl wget netcat-openbsd iperf3 valgrind jq
  netbase
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}; run 'sudo $0' or install them with apt-get" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq || echo "deps: apt-get update failed; trying with the cached package lists" >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
