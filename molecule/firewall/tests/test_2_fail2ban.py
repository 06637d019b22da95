"""fail2ban as the internet sees it: failed logins earn a kernel-level ban, the allowlisted admin never."""

import time

import pytest

from conftest import ADMIN, INTERNET, DISTRO, banner

testinfra_hosts = ["ansible://firewall-%s" % DISTRO]

# Bounded: at most ATTEMPTS failed logins per address family, each with a 5 s connect timeout.
ATTEMPTS = 8
SET = {4: "addr-set-sshd", 6: "addr6-set-sshd"}


def _fail_login(client, target):
    client.run(
        "timeout 15 sshpass -p wrong-password ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
        " -o ConnectTimeout=5 -o PubkeyAuthentication=no -o PreferredAuthentications=password"
        " -o NumberOfPasswordPrompts=1 intruder@%s true",
        target,
    )


def _in_set(host, family, address):
    out = host.run("nft list set inet f2b-table %s", SET[family])
    return out.rc == 0 and address in out.stdout


def _attack_until_banned(host, client, family, address, target):
    for _attempt in range(ATTEMPTS):
        if _in_set(host, family, address):
            return True
        _fail_login(client, target)
        time.sleep(1)
    for _second in range(10):
        if _in_set(host, family, address):
            return True
        time.sleep(1)
    return False


def test_jails_and_settings(host):
    status = host.check_output("fail2ban-client status")
    assert "sshd" in status and "recidive" in status
    assert "nftables-multiport" in host.check_output("fail2ban-client get sshd actions")
    assert "2592000" in host.check_output("fail2ban-client get dbpurgeage")
    ignored = host.check_output("fail2ban-client get sshd ignoreip")
    assert ADMIN[4] in ignored and ADMIN[6] in ignored and "127.0.0.0/8" in ignored


@pytest.mark.parametrize("family", [4, 6])
def test_allowlisted_admin_is_never_banned(host, admin, family):
    target = {4: "10.224.12.10", 6: "fd00:224:12::10"}[family]
    assert not _attack_until_banned(host, admin, family, ADMIN[family], target)
    assert ADMIN[family] not in host.check_output("fail2ban-client status sshd")
    assert banner(admin, family) == "SSH-2.0"


@pytest.mark.parametrize("family", [6, 4])
def test_failed_logins_ban_the_internet_in_nftables(host, internet, family):
    target = {4: "10.224.12.10", 6: "fd00:224:12::10"}[family]
    assert _attack_until_banned(host, internet, family, INTERNET[family], target)
    assert INTERNET[family] in host.check_output("fail2ban-client status sshd")
    # drop, not reject: the connection attempt waits for the whole timeout.
    start = time.monotonic()
    assert banner(internet, family, timeout=4) == ""
    assert time.monotonic() - start >= 3.5


def test_bans_survive_a_firewalld_reload(host, internet):
    # firewalld only replaces its own table: fail2ban's inet f2b-table and its sets stay.
    host.run_expect([0], "firewall-cmd --reload")
    assert _in_set(host, 4, INTERNET[4]) and _in_set(host, 6, INTERNET[6])
    assert banner(internet, 4) == ""
    assert "chain filter_IN_public" in host.check_output("nft list table inet firewalld")
