"""ssh_lockdown against a real sshd over real SSH from the controller.

Effective settings come from `sshd -T`; logins are real ssh/sshpass clients with BatchMode and a
ConnectTimeout; every guard is run as a real ansible-playbook that must fail, after which the host
must be unchanged and still reachable; the dead-man switch is made to fire and must heal the host.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
import qn_run  # noqa: E402  pylint: disable=wrong-import-position

DISTRO = os.environ.get("MOLECULE_DISTRO", "debian12")
CONTAINER = "ssh_lockdown-%s" % DISTRO
ADDR = "10.222.33.10"
EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", os.path.join(EPHEMERAL, "inventory"))
PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
SCENARIO = os.path.join(PROJECT, "molecule", "ssh_lockdown")
KEY = os.path.join(EPHEMERAL, "qn_throwaway_admin_ed25519")
ROOT_PASSWORD = "qn-throwaway-root-password"
ADMIN = "qnadmin"
ROLLBACK_DELAY = 60
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
CONTROL_DIR = "/tmp/qn-ssh-lockdown-cp"

# Checks run inside the container through docker: root SSH logins are off by design.
testinfra_hosts = ["docker://%s" % CONTAINER]


def _run(argv, timeout=30, **kwargs):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=timeout, **kwargs)


def ssh_key(user, command="true", port=22):
    return _run(["ssh"] + SSH_OPTS + ["-o", "IdentitiesOnly=yes", "-i", KEY, "-p", str(port), "%s@%s" % (user, ADDR), command])


def ssh_password(user, password):
    opts = [o.replace("BatchMode=yes", "BatchMode=no") for o in SSH_OPTS]
    return _run(["sshpass", "-p", password, "ssh"] + opts + [
        "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
        "-o", "NumberOfPasswordPrompts=1", "%s@%s" % (user, ADDR), "true"])


def offered_methods(user):
    """The methods sshd offers, from the 'Permission denied (...)' of a 'none' attempt."""
    out = _run(["ssh"] + SSH_OPTS + ["-o", "PreferredAuthentications=none", "%s@%s" % (user, ADDR), "true"]).stdout
    assert "Permission denied (" in out, out
    return out.split("Permission denied (", 1)[1].split(")", 1)[0]


def effective(host, user=ADMIN):
    out = host.check_output("sshd -T -C user=%s,host=controller,addr=10.222.33.1" % user)
    result = {}
    for line in out.splitlines():
        key, _sep, value = line.partition(" ")
        result.setdefault(key, []).append(value)
    return {key: " ".join(values) for key, values in result.items()}


def sshd_files_digest(host):
    """Digest of every file sshd reads and the admin's keys, so a refused run can be shown to have changed nothing."""
    out = host.check_output("cat /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf /home/%s/.ssh/authorized_keys | sha256sum"
                            % ADMIN)
    return out.split()[0]


def recap_changed(output):
    """The changed= count of the target in the PLAY RECAP."""
    for line in output.splitlines():
        if line.startswith(CONTAINER + " ") and "changed=" in line:
            return int(line.split("changed=", 1)[1].split()[0])
    raise AssertionError("no PLAY RECAP line in:\n" + output[-3000:])


def authorized_keys(host):
    return host.file("/home/%s/.ssh/authorized_keys" % ADMIN).content_string


@pytest.fixture(scope="module")
def second_key():
    """A second throw-away key pair on the controller: (private key path, public key line)."""
    directory = tempfile.mkdtemp(prefix="qn-second-key-")
    path = os.path.join(directory, "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "qn-second-throwaway", "-f", path], check=True)
    with open(path + ".pub") as handle:
        return path, handle.read().strip()


def run_playbook(extra_vars, env_extra=None, timeout=420, host_vars=None):
    """Run the converge playbook as a subprocess with extra vars; return (rc, output).

    ``host_vars`` go into a second inventory source, below set_fact in precedence (extra vars are above it).
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(extra_vars, handle)
    inventories = ["-i", INVENTORY]
    if host_vars:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as extra_inventory:
            json.dump({"all": {"hosts": {CONTAINER: host_vars}}}, extra_inventory)
        inventories += ["-i", extra_inventory.name]
    env = dict(ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_SSH_CONTROL_PATH_DIR=CONTROL_DIR,
               ANSIBLE_SSH_CONTROL_PATH="%(directory)s/%%h-%%p-%%r")
    env.update(env_extra or {})
    try:
        return qn_run.playbook(inventories + [os.path.join(SCENARIO, "converge.yml"), "-e", "@" + handle.name],
                               os.path.join(EPHEMERAL, "ansible.cfg"), timeout=timeout, **env)
    finally:
        os.unlink(handle.name)
        if host_vars:
            os.unlink(extra_inventory.name)


# Re-runs connect as the admin with the key, like an operator after the first run.
AS_ADMIN = {"ansible_user": ADMIN, "ansible_password": "", "ansible_ssh_pass": ""}


@pytest.fixture
def unchanged(host):
    """Assert after the test that sshd's files and effective settings are as before, and the admin gets in."""
    before = (sshd_files_digest(host), effective(host))
    yield
    assert (sshd_files_digest(host), effective(host)) == before
    assert ssh_key(ADMIN).returncode == 0
    assert host.run("systemctl is-active %s.timer" % "quietnode-ssh-rollback").stdout.strip() != "active"


def test_effective_settings(host, platform):
    conf = effective(host)
    expected = {
        "permitrootlogin": "no",
        "passwordauthentication": "no",
        "kbdinteractiveauthentication": "no",
        "pubkeyauthentication": "yes",
        "allowusers": ADMIN,
        "maxauthtries": "3",
        "logingracetime": "30",
        "clientaliveinterval": "300",
        "clientalivecountmax": "2",
        "x11forwarding": "no",
        "loglevel": "VERBOSE",
        "port": "22",
    }
    assert {key: conf.get(key) for key in expected} == expected
    dropin = host.file("/etc/ssh/sshd_config.d/00-quietnode.conf").content_string
    if platform["qn_crypto_policy"]:
        # EL: the algorithms stay with the system-wide crypto policy (ssh_lockdown_crypto_policy_override).
        assert "KexAlgorithms" not in dropin and "Ciphers" not in dropin and "MACs" not in dropin
        policy = host.file("/etc/crypto-policies/back-ends/opensshserver.config").content_string
        assert "Ciphers %s" % conf["ciphers"] in policy, policy
        return
    assert "KexAlgorithms" in dropin
    assert "sha1" not in conf["macs"] and "cbc" not in conf["ciphers"]
    version = host.check_output("ssh -V 2>&1")
    if DISTRO == "debian13":
        assert "OpenSSH_10" in version
        assert conf["kexalgorithms"].startswith("mlkem768x25519-sha256,")
    else:
        assert conf["kexalgorithms"].startswith("sntrup761x25519-sha512@openssh.com,")


def test_cloud_init_dropin_is_present_but_loses(host):
    planted = host.file("/etc/ssh/sshd_config.d/50-cloud-init.conf")
    assert planted.exists and "PasswordAuthentication yes" in planted.content_string
    assert effective(host)["passwordauthentication"] == "no"


def test_admin_key_login_works_and_can_sudo():
    result = ssh_key(ADMIN, "sudo -n id -u")
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "0"


def test_login_records_the_key_fingerprint(host):
    assert ssh_key(ADMIN).returncode == 0
    out = host.check_output("journalctl -q --no-pager -o cat -t sshd -t sshd-session --since -2min")
    assert any(line.startswith("Accepted publickey for %s" % ADMIN) and "SHA256:" in line for line in out.splitlines()), out


def test_root_login_refused():
    by_password = ssh_password("root", ROOT_PASSWORD)
    assert by_password.returncode != 0 and "Permission denied" in by_password.stdout, by_password.stdout
    by_key = ssh_key("root")
    assert by_key.returncode != 0 and "Permission denied" in by_key.stdout, by_key.stdout


def test_password_login_refused_and_not_offered():
    assert offered_methods(ADMIN) == "publickey"
    assert offered_methods("root") == "publickey"
    result = ssh_password(ADMIN, "anything")
    assert result.returncode != 0 and "Permission denied" in result.stdout, result.stdout


def test_admin_dirs_are_safe(host, platform):
    home = host.file("/home/%s" % ADMIN)
    assert home.user == ADMIN and not home.mode & 0o022
    ssh_dir = host.file("/home/%s/.ssh" % ADMIN)
    assert ssh_dir.mode == 0o700 and ssh_dir.user == ADMIN
    assert host.file("/home/%s/.ssh/authorized_keys" % ADMIN).mode == 0o600
    assert host.user(ADMIN).groups.count(platform["qn_admin_group"]) == 1
    assert host.run("visudo -cf /etc/sudoers.d/quietnode-admins").rc == 0


# --- guards: each must fail before any change, naming what to fix --------------------------------

def test_guard_allowed_user_without_key(host, unchanged):
    host.run_expect([0, 9], "useradd -m qnnokey")
    rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_allow_users=["qnnokey"]))
    assert rc != 0
    assert "qnnokey would be allowed to log in but hold no usable authorized key" in out, out[-3000:]


def test_guard_unreadable_admin_key(host, unchanged):
    admins = [{"name": ADMIN, "keys": ["ssh-ed25519 AAAAthis-is-not-a-key qn-broken"], "sudo": "nopasswd"}]
    rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_admin_users=admins))
    assert rc != 0
    assert "these public keys are not usable (ssh-keygen -l rejects them)" in out, out[-3000:]


def test_guard_connecting_user_not_permitted(host, unchanged):
    rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_allow_groups=["qnops"]))
    assert rc != 0
    assert "%s would be locked out: AllowGroups (qnops) contains none of the groups of %s" % (ADMIN, ADMIN) in out, out[-3000:]


def test_guard_password_login_without_key_for_next_user(host, unchanged):
    host.run_expect([0, 9], "useradd -m qnnokey")
    rc, out = run_playbook(dict(AS_ADMIN, ansible_password=ROOT_PASSWORD,
                                ssh_lockdown_connect_user="qnnokey", ssh_lockdown_allow_users=["qnnokey"]))
    assert rc != 0
    assert "this run logs in with a password and password authentication is about to be turned off" in out, out[-3000:]


def test_guard_earlier_dropin_overrides(host, unchanged):
    planted = "/etc/ssh/sshd_config.d/00-aaa.conf"
    host.run_expect([0], "printf 'PasswordAuthentication yes\\n' > %s" % planted)
    try:
        rc, out = run_playbook(AS_ADMIN)
    finally:
        host.run_expect([0], "rm -f %s" % planted)
    assert rc != 0
    assert "passwordauthentication is 'yes' in effect, not 'no': it is set by %s line 1" % planted in out, out[-3000:]


def test_guard_match_group_that_turns_passwords_back_on(host, unchanged):
    # The review's trap: a Match block at the end of sshd_config, for a group an allowed user is in.
    host.run_expect([0], "cp -p /etc/ssh/sshd_config /root/sshd_config.qn-saved && groupadd -f qncontract"
                         " && usermod -aG qncontract %s" % ADMIN)
    host.run_expect([0], "printf 'Match Group qncontract\\n    PasswordAuthentication yes\\n' >> /etc/ssh/sshd_config")
    line = int(host.check_output("grep -n '^Match Group qncontract' /etc/ssh/sshd_config | cut -d: -f1"))
    try:
        rc, out = run_playbook(AS_ADMIN)
    finally:
        host.run_expect([0], "cp -p /root/sshd_config.qn-saved /etc/ssh/sshd_config && rm -f /root/sshd_config.qn-saved"
                             " && gpasswd -d %s qncontract && groupdel qncontract" % ADMIN)
    assert rc != 0
    assert ("passwordauthentication is 'yes' for %s from" % ADMIN) in out, out[-3000:]
    assert ("set by /etc/ssh/sshd_config line %d (inside the Match block at /etc/ssh/sshd_config:%d)"
            % (line + 1, line)) in out, out[-3000:]
    assert "Nothing was changed." in out


def test_guard_missing_key_file(host, unchanged):
    admins = [{"name": ADMIN, "key_files": ["/nonexistent/qn-admin.pub"], "sudo": "nopasswd"}]
    rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_admin_users=admins))
    assert rc != 0
    assert ("key_files in ssh_lockdown_admin_users names '/nonexistent/qn-admin.pub' for %s, which the controller "
            "cannot read" % ADMIN) in out, out[-3000:]
    assert "Nothing was changed." in out and recap_changed(out) == 0


def test_guard_exclusive_keys_without_the_login_key(host, unchanged, second_key):
    """The review's trap: exclusive: true with another key would replace the key this run logs in with."""
    admins = [{"name": ADMIN, "keys": [second_key[1]], "sudo": "nopasswd", "exclusive": True}]
    rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_admin_users=admins))
    assert rc != 0
    assert ("this run logs in as %s with the key SHA256:" % ADMIN) in out, out[-3000:]
    assert ("ssh_lockdown_admin_users gives %s exclusive: true without that key" % ADMIN) in out, out[-3000:]
    assert "Nothing was changed." in out
    assert second_key[1].split()[1] not in authorized_keys(host)
    # The key this run used still opens a fresh login, the other one does not.
    assert ssh_key(ADMIN).returncode == 0


def test_authorized_keys_change_is_proven_by_a_fresh_login(host, second_key):
    before = authorized_keys(host)
    admins = [{"name": ADMIN, "key_files": [KEY + ".pub"], "keys": [second_key[1]], "sudo": "nopasswd", "exclusive": True}]
    rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_admin_users=admins))
    assert rc == 0, out[-3000:]
    assert "Save the sshd files and authorized keys and arm the dead-man timer" in out
    assert "Log in afresh over SSH with a key" in out and "Disarm the dead-man timer" in out, out[-3000:]
    assert second_key[1].split()[1] in authorized_keys(host)
    second = _run(["ssh"] + SSH_OPTS + ["-o", "IdentitiesOnly=yes", "-i", second_key[0], "%s@%s" % (ADMIN, ADDR), "true"])
    assert second.returncode == 0, second.stdout
    # Back to the inventory's one key: exclusive removes the second, again behind the timer.
    rc, out = run_playbook(AS_ADMIN)
    assert rc == 0, out[-3000:]
    assert "Disarm the dead-man timer" in out
    assert authorized_keys(host) == before
    assert ssh_key(ADMIN).returncode == 0
    assert host.run("systemctl is-active quietnode-ssh-rollback.timer").stdout.strip() != "active"


def test_rerun_inside_the_rollback_window_proves_the_pending_change(host):
    """A restore still pending (an earlier run never proved its change) is a change this run must prove."""
    script = "/var/lib/quietnode/ssh_lockdown/rollback.sh"
    host.run_expect([0], "sh %s arm 300" % script)
    try:
        rc, out = run_playbook(AS_ADMIN)
    finally:
        host.run("sh %s disarm" % script)
    assert rc == 0, out[-3000:]
    assert "Save the sshd files and authorized keys and arm the dead-man timer" in out
    assert "Log in afresh over SSH with a key" in out and "Disarm the dead-man timer" in out, out[-3000:]
    assert host.check_output("sh %s status" % script) == "idle"


def test_guard_new_port_unreachable(host, unchanged):
    host.run_expect([0], "nft add table inet qntest && nft add chain inet qntest input "
                         "'{ type filter hook input priority -10; }' && nft add rule inet qntest input tcp dport 2222 drop")
    try:
        rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_port=2222))
    finally:
        host.run("nft delete table inet qntest")
    assert rc != 0
    assert "port 2222 (ssh_lockdown_port) is not reachable from the controller at %s" % ADDR in out, out[-3000:]
    assert not host.socket("tcp://0.0.0.0:2222").is_listening
    # The port was opened in the running firewalld for the probe and is closed again.
    assert "Open the new port in the running firewalld only" in out, out[-3000:]
    assert "2222/tcp" not in host.check_output("firewall-cmd --list-ports").split()
    # A refused run says "Nothing was changed" and its recap agrees.
    assert recap_changed(out) == 0, out[-3000:]


def test_guard_new_port_answered_by_another_sshd(host, unchanged):
    """Any SSH banner used to pass the probe: another sshd already on the port must not."""
    host.run_expect([0], "systemd-run --unit=qn-other-sshd --property=RuntimeMaxSec=180 /usr/sbin/sshd -D -p 2222 -o PidFile=none")
    try:
        for _ in range(20):
            if host.socket("tcp://0.0.0.0:2222").is_listening:
                break
            time.sleep(0.5)
        rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_port=2222))
    finally:
        host.run("systemctl stop qn-other-sshd.service")
    assert rc != 0
    assert "port 2222 (ssh_lockdown_port) is not reachable from the controller at %s" % ADDR in out, out[-3000:]
    assert "with a host key made for this check, and a different SSH server answered" in out, out[-3000:]
    assert "2222/tcp" not in host.check_output("firewall-cmd --list-ports").split()


def test_port_change_moves_sshd_and_back(host):
    rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_port=2222))
    assert rc == 0, out[-3000:]
    assert "Log in afresh over SSH with a key" in out and "Disarm the dead-man timer" in out
    assert effective(host)["port"] == "2222"
    # firewalld's stock zone lets 2222 in only at runtime; the firewall role makes it permanent.
    assert "2222/tcp" in host.check_output("firewall-cmd --list-ports").split()
    assert "2222/tcp" not in host.check_output("firewall-cmd --permanent --list-ports").split()
    assert ssh_key(ADMIN, port=2222).returncode == 0
    refused = ssh_key(ADMIN)
    assert refused.returncode != 0 and "Connection refused" in refused.stdout, refused.stdout
    # The operator's inventory now says 2222; moving back to 22 follows the same path.
    rc, out = run_playbook(AS_ADMIN, host_vars={"ansible_port": 2222})
    assert rc == 0, out[-3000:]
    assert effective(host)["port"] == "22"
    assert ssh_key(ADMIN).returncode == 0
    assert ssh_key(ADMIN, port=2222).returncode != 0


# --- dead-man switch ------------------------------------------------------------------------------

def test_dead_man_switch_restores_previous_config(host, second_key):
    """Keep one SSH connection open for the run, drop every new one, and let the timer heal the host.

    The run changes sshd and the admin's authorized keys (exclusive, with a second key): both come back.
    """
    before_files, before, keys_before = sshd_files_digest(host), effective(host), authorized_keys(host)
    admins = [{"name": ADMIN, "key_files": [KEY + ".pub"], "keys": [second_key[1]], "sudo": "nopasswd", "exclusive": True}]
    os.makedirs(CONTROL_DIR, exist_ok=True)
    control = os.path.join(CONTROL_DIR, "%s-22-%s" % (ADDR, ADMIN))
    # The master connection Ansible will reuse for every task until reset_connection closes it.
    master = _run(["ssh"] + SSH_OPTS + ["-o", "IdentitiesOnly=yes", "-i", KEY, "-o", "ControlMaster=yes",
                                        "-o", "ControlPath=" + control, "-o", "ControlPersist=300", "-fN",
                                        "%s@%s" % (ADMIN, ADDR)])
    assert master.returncode == 0, master.stdout
    host.run_expect([0], "nft add table inet qntest && nft add chain inet qntest input "
                         "'{ type filter hook input priority -10; }' && "
                         "nft add rule inet qntest input tcp dport 22 ct state new drop")
    try:
        # The network breaks after the run began: the connection role's fresh-login probe at the start
        # (which would now refuse the run, as it should) is taken as done.
        began = {"connection_login": {"user": ADMIN, "port": 22, "method": "key", "sudo": "nopasswd"},
                 "connection_over_ssh": True, "connection_become_password_given": False}
        # The plain linear strategy: its ssh connection reuses the master opened above, which is how this
        # run keeps a way in while every new connection is dropped. Mitogen (fast_linear) would open its
        # own; the fresh-login proof and the timer are the same under both.
        rc, out = run_playbook(dict(AS_ADMIN, ssh_lockdown_client_alive_interval=120, ssh_lockdown_verify_timeout=8,
                                    ssh_lockdown_admin_users=admins, **began), env_extra={"ANSIBLE_STRATEGY": "linear"})
        finished = time.time()
        assert rc != 0, out[-3000:]
        assert "Save the sshd files and authorized keys and arm the dead-man timer" in out
        assert "Log in afresh over SSH with a key" in out and "Disarm the dead-man timer" not in out, out[-3000:]
        # The failure says what happens next, not only that a connection timed out, and never that nothing changed.
        assert "The dead-man timer is armed: unless a fresh login proves the change" in out, out[-3000:]
        assert "that proves this run's change failed" in out and "Nothing was changed" not in out, out[-3000:]
        assert second_key[1].split()[1] in authorized_keys(host)
        # The timer was armed before the reload, so the restore is due within the delay.
        restored = False
        while time.time() - finished < ROLLBACK_DELAY + 15:
            if effective(host)["clientaliveinterval"] == "300":
                restored = True
                break
            time.sleep(2)
        assert restored, "previous configuration not back within %d s" % (ROLLBACK_DELAY + 15)
        log = host.check_output("journalctl -q --no-pager -o cat -t quietnode-ssh-rollback --since -5min")
        assert "the change was not proven by a fresh login in time: restored the previous sshd configuration" in log
    finally:
        host.run("nft delete table inet qntest")
        _run(["ssh", "-o", "ControlPath=" + control, "-O", "exit", "%s@%s" % (ADMIN, ADDR)])
    assert sshd_files_digest(host) == before_files and effective(host) == before
    assert authorized_keys(host) == keys_before
    # A fresh key login after the dead-man window, with the key the inventory holds.
    assert ssh_key(ADMIN).returncode == 0

