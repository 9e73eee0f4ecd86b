#!/usr/bin/env bash
# Debian packages the tests need: speech (espeak-ng), audio tools (sox, libsndfile),
# a browser for the UI tests (chromium). Installs only what is missing.
set -euo pipefail
packages=(espeak-ng sox libsndfile1 chromium)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
