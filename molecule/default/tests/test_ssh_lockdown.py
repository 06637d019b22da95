"""ssh_lockdown inside the whole baseline: what sshd really enforces (sshd -T, a loopback client)."""

import pytest

ADMIN = "qnadmin"
SSH = ("timeout 15 ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no "
       "-o UserKnownHostsFile=/dev/null -o PreferredAuthentications=none %s@127.0.0.1 true")


@pytest.fixture(scope="module")
def effective(host):
    """`sshd -T` lines for the admin's login, the settings sshd really uses."""
    return set(host.check_output("sshd -T -C user=%s,host=localhost,addr=127.0.0.1" % ADMIN).splitlines())


@pytest.mark.parametrize("line", [
    "permitrootlogin no",
    "passwordauthentication no",
    "kbdinteractiveauthentication no",
    "pubkeyauthentication yes",
    "allowusers %s" % ADMIN,
    "loglevel VERBOSE",
    "x11forwarding no",
])
def test_effective_sshd_setting(effective, line):
    assert line in effective


def test_sshd_offers_only_keys_over_loopback(host):
    for user in ("root", ADMIN):
        out = host.run(SSH % user)
        assert out.rc != 0
        assert "Permission denied (publickey)" in out.stderr, out.stderr


def test_admin_holds_the_test_key_and_sudo_rule(host, platform):
    keys = host.check_output("ssh-keygen -l -f /home/%s/.ssh/authorized_keys" % ADMIN)
    assert "qn-throwaway-test-key-not-for-real-use" in keys
    assert platform["qn_admin_group"] in host.user(ADMIN).groups
    assert host.run("sudo -n -u %s sudo -n true" % ADMIN).rc == 0


def test_no_rollback_pending(host):
    assert host.run("systemctl is-active quietnode-ssh-rollback.timer").stdout.strip() != "active"
