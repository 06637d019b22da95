#!/usr/bin/env bash
# Time playbooks/site.yml over SSH on a local "fresh VPS" container (first converge as root with
# a password, then re-applies to the converged host) against devsec.hardening's os_hardening and
# ssh_hardening on a second fresh container from the same image, reached the same way. The
# re-applies alternate between the two hosts, so both see the same machine load; the table gives
# the median of QN_REAPPLY_ROUNDS rounds.
#   QN_DEVSEC_SRC      devsec.hardening checkout or bare git dir (unset or missing: ours alone)
#   QN_REAPPLY_TARGET  seconds the re-apply should take at most (reported, default 15)
#   QN_BENCH_KEEP=1    leave both containers running, for profiling
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv/bin ] && export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
# Per-task and per-role times in every log (both sides pay the same for them).
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks,ansible.posix.profile_roles
image="${QN_BENCH_IMAGE:-quietnode/debian12:latest}"
ours="${QN_BENCH_NAME:-quietnode-bench}"
devsec="${QN_DEVSEC_NAME:-qn-devsec-bench}"
port="${QN_BENCH_PORT:-2223}"
devsec_port="${QN_DEVSEC_PORT:-2224}"
devsec_src="${QN_DEVSEC_SRC-/work/.mirror/dev-sec+ansible-collection-hardening/repo}"
rounds="${QN_REAPPLY_ROUNDS:-3}"
target="${QN_REAPPLY_TARGET:-15}"
state="$PWD/bench-results/site-state"
dstate="$PWD/bench-results/devsec-state"
admin=qnadmin

# devsec's role defaults stand except what a container cannot do (inventory lines, printed with
# the table); devsec skips its sysctl writes by itself when it sees docker.
devsec_toggles=(
  "os_auditd_enabled: false  # the kernel refuses auditd in a container (devsec's own container tests set it too)"
)

cleanup() {
  [ "${QN_BENCH_KEEP:-0}" = 1 ] && return
  bash tests/scripts/vps.sh stop "$ours"
  bash tests/scripts/vps.sh stop "$devsec"
}
trap cleanup EXIT

# devsec.hardening into a bench-local collections dir, so the project's own path stays as it is.
have_devsec=0
if [ -n "$devsec_src" ] && [ -e "$devsec_src" ]; then
  rm -rf "$dstate"
  dest="$dstate/collections/ansible_collections/devsec/hardening"
  mkdir -p "$dest"
  if [ -f "$devsec_src/galaxy.yml" ]; then
    cp -a "$devsec_src/." "$dest/"
  else
    git --git-dir="$devsec_src" archive HEAD | tar -x -C "$dest"
  fi
  have_devsec=1
  devsec_version="$(sed -nE 's/^version: *//p' "$dest/galaxy.yml")"
else
  echo "devsec.hardening not found (QN_DEVSEC_SRC='${devsec_src}'): timing quietnode alone"
fi

rm -rf "$state"
bash tests/scripts/vps.sh start "$ours" "$port" "$state" "$image"
bash tests/scripts/vps.sh inventory "$ours" "$port" "$state" "$admin"

if (( have_devsec )); then
  bash tests/scripts/vps.sh start "$devsec" "$devsec_port" "$dstate" "$image"
  # ssh_hardening turns root and password logins off and creates no user, so the admin a user
  # would add first logs in with a key and sudo, as our re-apply does after its handover.
  ssh-keygen -q -t ed25519 -N '' -C "${admin}@${devsec}" -f "$dstate/id_ed25519"
  docker exec -i "$devsec" sh -c "useradd -m -s /bin/bash $admin && install -d -m 0700 -o $admin -g $admin /home/$admin/.ssh \
    && cat > /home/$admin/.ssh/authorized_keys && chown $admin: /home/$admin/.ssh/authorized_keys \
    && echo '$admin ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/$admin && chmod 0440 /etc/sudoers.d/$admin" \
    <"$dstate/id_ed25519.pub"
  # devsec installs packages without refreshing the index, and this image ships with none.
  docker exec "$devsec" apt-get -q update >"$dstate/apt-update.log" 2>&1
  cat > "$dstate/inventory.yml" <<INV
---
devsec:
  hosts:
    demo:
      ansible_host: 127.0.0.1
      ansible_port: ${devsec_port}
  vars:
    ansible_user: ${admin}
    ansible_ssh_common_args: "-o UserKnownHostsFile=${dstate}/known_hosts"
    ansible_ssh_private_key_file: ${dstate}/id_ed25519
INV
  for t in "${devsec_toggles[@]}"; do printf '    %s\n' "$t" >>"$dstate/inventory.yml"; done
  # The play both roles' READMEs give; gather_facts as Ansible's own default (ours is explicit).
  cat > "$dstate/devsec.yml" <<'PLAY'
---
- name: Apply devsec.hardening os_hardening and ssh_hardening
  hosts: all
  become: true
  gather_facts: true
  roles:
    - devsec.hardening.os_hardening
    - devsec.hardening.ssh_hardening
PLAY
fi

declare -A ms ok changed skipped
play() {
  local who="$1" label="$2" start recap log
  if [ "$who" = ours ]; then
    log="$state/$label.log"
    start=$(date +%s%N)
    ansible-playbook -i "$state/inventory.yml" playbooks/site.yml >"$log" 2>&1 \
      || { tail -40 "$log"; echo "$label: site.yml failed"; exit 1; }
  else
    log="$dstate/$label.log"
    start=$(date +%s%N)
    ANSIBLE_COLLECTIONS_PATH="$dstate/collections:$PWD/collections:$PWD/.venv/collections" \
      ansible-playbook -i "$dstate/inventory.yml" "$dstate/devsec.yml" >"$log" 2>&1 \
      || { tail -40 "$log"; echo "$label: devsec.hardening failed"; exit 1; }
  fi
  ms[$who.$label]=$(( ($(date +%s%N) - start) / 1000000 ))
  recap=$(grep -E '^demo +:' "$log")
  ok[$who.$label]=$(sed -E 's/.*ok=([0-9]+).*/\1/' <<<"$recap")
  changed[$who.$label]=$(sed -E 's/.*changed=([0-9]+).*/\1/' <<<"$recap")
  skipped[$who.$label]=$(sed -E 's/.*skipped=([0-9]+).*/\1/' <<<"$recap")
}
sec() { awk -v ms="$1" 'BEGIN{printf "%.1f", ms/1000}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2)}'; }

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
play ours first
(( have_devsec )) && play devsec first
for r in $(seq 1 "$rounds"); do
  # Alternate who goes first, so neither always runs right after the other's load.
  if (( have_devsec && r % 2 == 0 )); then play devsec "re-apply-$r"; play ours "re-apply-$r"
  else play ours "re-apply-$r"; (( have_devsec )) && play devsec "re-apply-$r"; fi
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

row() { # label, then a value for ours and one for devsec
  if (( have_devsec )); then printf '%-22s %18s %18s\n' "$1" "$2" "$3"; else printf '%-22s %18s\n' "$1" "$2"; fi
}
series() { local who="$1" out="" r; for r in $(seq 1 "$rounds"); do out+="${out:+ }$(sec "${ms[$who.re-apply-$r]}")"; done; echo "$out"; }
worst_changed() { local who="$1" n=0 r; for r in $(seq 1 "$rounds"); do (( changed[$who.re-apply-$r] > n )) && n=${changed[$who.re-apply-$r]}; done; echo "$n"; }
rounds_ms() { local who="$1" r; for r in $(seq 1 "$rounds"); do echo "${ms[$who.re-apply-$r]}"; done; }

ours_med=$(median $(rounds_ms ours))
echo "Re-apply over SSH to a converged Debian 12 container ($(nproc) cores, ${rounds} alternating rounds)"
if (( have_devsec )); then
  devsec_med=$(median $(rounds_ms devsec))
  echo "devsec.hardening ${devsec_version}: os_hardening + ssh_hardening, role defaults except: $(IFS=';'; echo "${devsec_toggles[*]:-none}")"
fi
row "" "quietnode" "devsec"
row "first converge (s)" "$(sec "${ms[ours.first]}")" "$( (( have_devsec )) && sec "${ms[devsec.first]}")"
row "re-apply median (s)" "$(sec "$ours_med")" "$( (( have_devsec )) && sec "$devsec_med")"
row "re-apply rounds (s)" "$(series ours)" "$( (( have_devsec )) && series devsec)"
row "tasks ok" "${ok[ours.re-apply-1]}" "${ok[devsec.re-apply-1]:-}"
row "skipped" "${skipped[ours.re-apply-1]}" "${skipped[devsec.re-apply-1]:-}"
row "changed (worst round)" "$(worst_changed ours)" "$( (( have_devsec )) && worst_changed devsec)"
(( have_devsec )) && echo "ratio quietnode/devsec re-apply: $(awk -v a="$ours_med" -v b="$devsec_med" 'BEGIN{printf "%.2f", a/b}')"
echo "load average before: ${load_before}; after: ${load_after}"
if (( ours_med <= target * 1000 )); then echo "target ${target} s: met"; else echo "target ${target} s: NOT met"; fi

echo "quietnode re-apply by role, round ${rounds} (seconds):"
sed -n '/^ROLES RECAP/,/^total/p' "$state/re-apply-${rounds}.log" | grep -E ' -+ [0-9.]+s$' \
  | sed -E 's/^(.*[^ -]) -+ ([0-9.]+)s$/  \2 \1/' | head -20

status=0
if (( $(worst_changed ours) > 0 )); then echo "re-apply reported changes"; status=1; fi
exit $status
