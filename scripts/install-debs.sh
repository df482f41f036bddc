#!/usr/bin/env bash
# Installs the Debian packages the hub's tests use, only those missing. Needs root (or sudo).
set -euo pipefail
packages=(chromium postgresql espeak-ng sox swaks sip-tester baresip kannel kannel-extras
          libtiff-tools ghostscript img2pdf tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim
          dovecot-imapd hylafax-server fonts-droid-fallback redis-server haproxy)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
