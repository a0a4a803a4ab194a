#!/usr/bin/env bash
# Install the Debian packages the test suite drives for real, when any is missing.
# Needs root (CI and these machines run as root); otherwise says what to install.
set -euo pipefail
packages=(apache2 apache2-utils libapache2-mod-wsgi-py3 libapache2-mod-python brz git chromium
          postgresql sqlite3 openssl nginx subversion python3-subversion python3-venv)
missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# The Debian service scripts must not hold the ports or files the tests use.
for svc in apache2 nginx postgresql; do
    if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
