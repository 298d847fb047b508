#!/usr/bin/env bash
# Installs what building and testing apisonar needs on Debian/Ubuntu: libpcap's headers and
# pkg-config. Safe to run again: installs only what is missing. Needs root (or sudo).
set -euo pipefail
need=()
for pkg in libpcap-dev pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  echo "installed: ${need[*]}"
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
