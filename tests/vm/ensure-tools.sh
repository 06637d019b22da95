#!/usr/bin/env bash
# Install what the verification VM needs on the controller (qemu, qemu-img, debootstrap,
# mkfs.ext4 -d, ssh-keygen) from Debian's archive, only when something is missing.
set -euo pipefail

declare -A pkg_for=(
  [qemu-system-x86_64]=qemu-system-x86
  [qemu-img]=qemu-utils
  [debootstrap]=debootstrap
  [mkfs.ext4]=e2fsprogs
  [ssh-keygen]=openssh-client
  [ssh]=openssh-client
  [flock]=util-linux
)
missing=()
for tool in "${!pkg_for[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 \
    || missing+=("${pkg_for[$tool]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "vm tools present"
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
