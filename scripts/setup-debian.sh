#!/usr/bin/env bash
# Installs what building and testing apisonar needs on Debian/Ubuntu: libpcap's headers,
# pkg-config, the live-capture test tools (iproute2 for network namespaces, tcpreplay, curl),
# systemd-analyze for the unit check, and openapi-spec-validator (PyPI, or Debian's package). Safe to run again:
# installs only what is missing. Needs root (or sudo).
set -euo pipefail
need=()
for pkg in libpcap-dev pkg-config iproute2 tcpreplay curl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# The dashboard's browser test drives Debian's Chromium with Node.js.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  echo "installed: ${need[*]}"
fi
# The OpenAPI export tests check documents with a real validator.
if ! command -v openapi-spec-validator >/dev/null 2>&1; then
  python3 -m pip install -q openapi-spec-validator >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages openapi-spec-validator >/dev/null 2>&1 \
    || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-openapi-spec-validator >/dev/null; }
  command -v openapi-spec-validator >/dev/null 2>&1 || { echo "could not install openapi-spec-validator" >&2; exit 1; }
  echo "installed: openapi-spec-validator"
fi
# The browser tests' playwright-core and axe-core, and the OpenAPI linters the export tests run
# (Redocly CLI, Spectral), at the versions pinned in tests/e2e/package-lock.json.
e2e="$(dirname "$0")/../tests/e2e"
for pkg in playwright-core axe-core @redocly/cli @stoplight/spectral-cli; do
  if [ ! -d "$e2e/node_modules/$pkg" ]; then
    # No install scripts: none of these needs one (one would only report analytics).
    npm ci --prefix "$e2e" --no-audit --no-fund --ignore-scripts >/dev/null
    echo "installed: tests/e2e packages (package-lock.json)"
    break
  fi
done
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
