#!/usr/bin/env bash
# A local "fresh VPS": a systemd container from the Debian 12 image, reachable over
# SSH on a loopback port with a root password, the way a new Linode comes up.
# Usage: tests/scripts/vps.sh start NAME PORT STATE_DIR [IMAGE] | inventory NAME PORT STATE_DIR [ADMIN] | stop NAME
#        tests/scripts/vps.sh boot NAME IMAGE [docker run args...]   (systemd container only, booted)
set -euo pipefail
cmd="$1"; name="$2"

# The capability list of the Molecule container recipe, so a bench container runs as the tests' do.
recipe="$(dirname "$0")/../../molecule/shared/vars/container.yml"
mapfile -t caps < <(awk '/^  capabilities:/ {on=1; next} on && /^    - / {print $2; next} on && !/^ *#/ {exit}' "$recipe")
[ "${#caps[@]}" -gt 30 ] || { echo "vps.sh: no capability list read from $recipe" >&2; exit 1; }

case "$cmd" in
  stop)
    docker rm -f "$name" >/dev/null 2>&1 || true
    ;;
  boot)
    # The systemd container recipe every bench shares: explicit capabilities, because
    # `privileged` needs CAP_SYS_RESOURCE, which this kernel's bounding set lacks.
    image="$3"; shift 3
    docker rm -f "$name" >/dev/null 2>&1 || true
    args=(--detach --name "$name" --hostname "$name" --cgroupns host
          --volume /sys/fs/cgroup:/sys/fs/cgroup:rw
          --security-opt seccomp=unconfined --security-opt apparmor=unconfined
          --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec,mode=1777)
    for c in "${caps[@]}"; do args+=(--cap-add "$c"); done
    docker run "${args[@]}" "$@" "$image" >/dev/null
    for _ in $(seq 1 60); do
      state_now="$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)"
      case "$state_now" in running|degraded) break ;; esac
      sleep 1
    done
    ;;
  start)
    port="$3"; state="$4"; image="${5:-quietnode/debian12:latest}"
    mkdir -p "$state"
    bash "$0" boot "$name" "$image" --publish "127.0.0.1:${port}:22"
    # Root password login, as the provider's console leaves it.
    password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    printf '%s\n' "$password" > "$state/root-password"
    chmod 600 "$state/root-password"
    docker exec -i "$name" sh -c 'chpasswd' <<<"root:${password}"
    docker exec "$name" sh -c 'printf "PermitRootLogin yes\nPasswordAuthentication yes\n" > /etc/ssh/sshd_config.d/50-provider.conf && systemctl reload ssh'
    for _ in $(seq 1 30); do
      ssh-keyscan -p "$port" 127.0.0.1 >"$state/known_hosts.scan" 2>/dev/null && [ -s "$state/known_hosts.scan" ] && break
      sleep 1
    done
    sed "s/^127.0.0.1/[127.0.0.1]:${port}/" "$state/known_hosts.scan" > "$state/known_hosts"
    rm -f "$state/known_hosts.scan"
    ;;
  inventory)
    # The same inventory shape a user writes for a real server (inventory.example/),
    # with an admin key pair made for this container.
    port="$3"; state="$4"; admin="${5:-qnadmin}"
    [ -f "$state/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "${admin}@${name}" -f "$state/id_ed25519"
    cat > "$state/inventory.yml" <<INV
---
linodes:
  hosts:
    demo:
      ansible_host: 127.0.0.1
      ansible_port: ${port}
  vars:
    ansible_user: root
    ansible_password: "{{ lookup('ansible.builtin.file', '${state}/root-password') }}"
    ansible_ssh_common_args: "-o UserKnownHostsFile=${state}/known_hosts"
    ansible_ssh_private_key_file: ${state}/id_ed25519
    ssh_lockdown_admin_users:
      - name: ${admin}
        keys:
          - "{{ lookup('ansible.builtin.file', '${state}/id_ed25519.pub') }}"
        sudo: nopasswd
INV
    ;;
  *) echo "usage: $0 start NAME PORT STATE_DIR [IMAGE] | stop NAME" >&2; exit 2 ;;
esac
