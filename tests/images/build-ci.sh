#!/usr/bin/env bash
# Build the test image for one MOLECULE_DISTRO. Debian images come from debootstrap
# (no registry); EL and Ubuntu images start from their public registry images and
# are built only where those registries are reachable (GitHub Actions).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
distro="$1"
case "$distro" in
  debian12) exec bash "$here/build.sh" bookworm ;;
  debian13) exec bash "$here/build.sh" trixie ;;
  centos-stream9)  base=quay.io/centos/centos:stream9;  file=Dockerfile.el ;;
  centos-stream10) base=quay.io/centos/centos:stream10; file=Dockerfile.el ;;
  rockylinux9)     base=docker.io/rockylinux/rockylinux:9;  file=Dockerfile.el ;;
  rockylinux10)    base=docker.io/rockylinux/rockylinux:10; file=Dockerfile.el ;;
  almalinux9)      base=docker.io/almalinux/almalinux:9;    file=Dockerfile.el ;;
  almalinux10)     base=docker.io/almalinux/almalinux:10;   file=Dockerfile.el ;;
  ubuntu2404)      base=docker.io/library/ubuntu:24.04;    file=Dockerfile.ubuntu ;;
  *) echo "unknown distro: $distro" >&2; exit 2 ;;
esac
docker build --pull --build-arg "BASE=$base" -t "quietnode/${distro}:latest" -f "$here/$file" "$here"
