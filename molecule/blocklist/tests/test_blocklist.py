"""Verify what the host really does: drops from a listed client, lets the allowlisted one in, survives reloads."""

import os
import re
import time

import pytest
import testinfra

DISTRO = os.environ.get("MOLECULE_DISTRO", "debian12")
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
TABLE = "quietnode_blocklist"
# Every traffic attempt is bounded: a 3 s connect timeout, at most ATTEMPTS tries.
ATTEMPTS = 3

testinfra_hosts = ["ansible://blocklist-%s" % DISTRO]


def _host(name):
    return testinfra.get_host("ansible://%s-%s" % (name, DISTRO), ansible_inventory=INVENTORY)


@pytest.fixture(scope="module")
def target_ip(host):
    return host.check_output("hostname -I").split()[0]


def _banner(client, ip):
    """SSH banner read over bash's /dev/tcp, or '' if the connection is dropped."""
    cmd = client.run("timeout 3 bash -c 'exec 3<>/dev/tcp/%s/22 && head -c 7 <&3'" % ip)
    return cmd.stdout if cmd.rc == 0 else ""


def _v4_drops(host):
    out = host.check_output("nft -t list table inet %s" % TABLE)
    match = re.search(r'counter packets (\d+) bytes \d+ drop comment "quietnode blocklist v4"', out)
    assert match, out
    return int(match.group(1))


def _assert_enforced(host, ip):
    assert _banner(_host("blocklist-blocked"), ip) == ""
    assert _banner(_host("blocklist-allowed"), ip) == "SSH-2.0"


def _wait_for(host, command, expected, seconds=30):
    for _attempt in range(seconds):
        if host.run(command).stdout.strip() == expected:
            return
        time.sleep(1)
    pytest.fail("%s did not report %s within %d s" % (command, expected, seconds))


def test_table_hooks_prerouting_before_conntrack(host):
    out = host.check_output("nft -t list table inet %s" % TABLE)
    assert "type filter hook prerouting priority raw; policy accept;" in out
    assert 'comment "quietnode-blocklist sha256=' in out


def test_listed_client_is_dropped_and_allowlisted_one_connects(host, target_ip):
    _assert_enforced(host, target_ip)


def test_counters_increase_with_dropped_attempts(host, target_ip):
    before = _v4_drops(host)
    blocked = _host("blocklist-blocked")
    for _attempt in range(ATTEMPTS):
        assert _banner(blocked, target_ip) == ""
    assert _v4_drops(host) >= before + ATTEMPTS


def test_persisted_and_boot_unit_enabled(host):
    assert host.file("/etc/quietnode/blocklist/blocklist.nft").mode == 0o644
    assert host.service("quietnode-blocklist.service").is_enabled


def test_firewalld_reload_keeps_blocklist(host, target_ip):
    host.run_expect([0], "systemctl reload firewalld")
    _wait_for(host, "firewall-cmd --state", "running")
    host.run_expect([0], "firewall-cmd --reload")
    _assert_enforced(host, target_ip)


def test_firewalld_restart_keeps_blocklist(host, target_ip):
    host.run_expect([0], "systemctl restart firewalld")
    _wait_for(host, "firewall-cmd --state", "running")
    assert "table inet firewalld" in host.check_output("nft -t list tables")
    _assert_enforced(host, target_ip)


def test_nftables_service_restart_reload_and_stop_keep_blocklist(host, target_ip):
    # /etc/nftables.conf starts with `flush ruleset`; stopping nftables.service runs `nft flush ruleset`.
    for action in ("restart", "reload", "stop"):
        host.run_expect([0], "systemctl %s nftables.service" % action)
        _assert_enforced(host, target_ip)
    host.run_expect([0], "systemctl start firewalld")
    _wait_for(host, "firewall-cmd --state", "running")
    _assert_enforced(host, target_ip)


def test_boot_unit_restores_a_flushed_table(host, target_ip):
    host.run_expect([0], "nft delete table inet %s" % TABLE)
    assert _banner(_host("blocklist-blocked"), target_ip) == "SSH-2.0"
    host.run_expect([0], "systemctl restart quietnode-blocklist.service")
    _assert_enforced(host, target_ip)
