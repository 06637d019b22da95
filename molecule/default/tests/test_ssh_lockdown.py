"""ssh_lockdown inside the whole baseline: what sshd really enforces (sshd -T, a loopback client)."""

import pytest

ADMIN = "qnadmin"
SSH = ("timeout 15 ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no "
       "-o UserKnownHostsFile=/dev/null -o PreferredAuthentications=none %s@127.0.0.1 true")


@pytest.fixture(scope="module")
def effective(host):
    out = host.check_output("sshd -T -C user=%s,host=localhost,addr=127.0.0.1" % ADMIN)
    result = {}
    for line in out.splitlines():
        key, _sep, value = line.partition(" ")
        result.setdefault(key, []).append(value)
    return {key: " ".join(values) for key, values in result.items()}


def test_effective_sshd_settings(effective):
    assert effective["permitrootlogin"] == "no"
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    assert effective["pubkeyauthentication"] == "yes"
    assert effective["allowusers"] == ADMIN
    assert effective["loglevel"] == "VERBOSE"
    assert effective["x11forwarding"] == "no"


def test_sshd_offers_only_keys_over_loopback(host):
    for user in ("root", ADMIN):
        out = host.run(SSH % user)
        assert out.rc != 0
        assert "Permission denied (publickey)" in out.stderr, out.stderr


def test_admin_holds_the_test_key_and_sudo_rule(host):
    keys = host.check_output("ssh-keygen -l -f /home/%s/.ssh/authorized_keys" % ADMIN)
    assert "qn-throwaway-test-key-not-for-real-use" in keys
    assert "sudo" in host.user(ADMIN).groups
    assert host.run("sudo -n -u %s sudo -n true" % ADMIN).rc == 0


def test_no_rollback_pending(host):
    assert host.run("systemctl is-active quietnode-ssh-rollback.timer").stdout.strip() != "active"
