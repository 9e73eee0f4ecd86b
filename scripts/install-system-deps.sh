#!/usr/bin/env bash
# Debian packages the tests need: speech (espeak-ng; real read English from
# pocketsphinx-testdata), audio tools (sox, libsndfile),
# a browser for the UI tests (chromium), the reverse proxy of the scaled-out web tier (haproxy),
# Node.js for the JS unit tests. Installs only what
# is missing.
set -euo pipefail
packages=(espeak-ng sox libsndfile1 chromium pocketsphinx-testdata haproxy)
# Node.js runs the UI's JavaScript unit tests and its checkers (ESLint 10 needs >= 20.19);
# npm installs those checkers from package-lock.json (`npm ci`, in `make lint`).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
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
