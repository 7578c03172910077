#!/usr/bin/env bash
# Prints the path of Debian's chromium for the browser tests (tests/browser),
# installing it with apt-get first when it is missing.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
  echo "Installing Debian's chromium for the browser tests..." >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
fi
echo "$CHROMIUM"
