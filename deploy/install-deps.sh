#!/usr/bin/env bash
# Install the Debian packages intentd builds, tests and runs with. Idempotent:
# packages already present are not downloaded again, and apt's index is only
# refreshed when a package is missing. Needs root or sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  librdkafka-dev libavro-dev libopenblas-dev libyaml-dev libcmocka-dev
  libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev
  clang libclang-rt-14-dev
  maven openjdk-17-jre-headless
  python3-numpy python3-torch
  yamllint systemd curl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} Debian packages are installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
