#!/usr/bin/env bash
# Installs the Debian packages radgal builds against. Idempotent and quiet: when everything is
# already installed it only checks, and it prints nothing unless it has to install something.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libeigen3-dev        # CPU linear algebra (GEMM behind conv and matmul)
  libcfitsio-dev       # FITS reading, including tile-compressed .fz
  libstb-dev           # PNG/JPEG reading and PNG writing (stb_image, stb_image_write)
  zlib1g-dev
  doctest-dev          # the test framework
  libbenchmark-dev     # Google Benchmark, for bench/
  nlohmann-json3-dev   # safetensors headers, run configs, JSON reports
  libcli11-dev         # command-line parsing
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
