"""Verify what the host really does: drops from a listed client, lets the allowlisted one in, survives reloads."""

import json
import os
import re
import time

import pytest
import testinfra

DISTRO = os.environ.get("MOLECULE_DISTRO", "debian12")
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
TABLE = "quietnode_blocklist"
STATE = "/var/lib/quietnode/blocklist/refresh-state.json"
REFRESH = "quietnode-blocklist-refresh"
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


def test_country_zone_address_is_dropped(host, target_ip):
    # The blocked client is listed only by the AQ zone the feed server serves (the Molecule network).
    blocked = _host("blocklist-blocked").check_output("hostname -I").split()[0]
    assert host.run("nft get element inet %s v4 { %s }" % (TABLE, blocked)).rc == 0
    assert "country AQ (IPv4)" in host.file("/var/lib/quietnode/blocklist/refresh.json").content_string
    assert _banner(_host("blocklist-blocked"), target_ip) == ""


def test_refresh_timer_is_daily_with_a_random_delay(host):
    timer = host.service("%s.timer" % REFRESH)
    assert timer.is_enabled and timer.is_running
    out = host.check_output("systemctl show %s.timer -p TimersCalendar -p RandomizedDelayUSec" % REFRESH)
    assert ("OnCalendar=daily" in out or "OnCalendar=*-*-* 00:00:00" in out) and "RandomizedDelayUSec=1h" in out


def _listed(host, address):
    return host.run("nft get element inet %s v4 { %s }" % (TABLE, address)).rc == 0


def _refresh(host, variant=None):
    """Serve a feed variant, run the timer's service once; the state file and the run's journal line."""
    if variant:
        _host("blocklist-feeds").run_expect([0], "cp /srv/feeds/variants/%s.txt /srv/feeds/offenders.txt" % variant)
    cursor = host.check_output("journalctl -n 0 --show-cursor -o cat | sed -n 's/^-- cursor: //p'")
    host.run_expect([0], "systemctl start %s.service" % REFRESH)
    line = ""
    for _attempt in range(10):
        line = host.run("journalctl -u %s.service --after-cursor='%s' -o cat | grep 'quietnode-blocklist refresh:' | tail -n 1"
                        % (REFRESH, cursor)).stdout.strip()
        if line:
            break
        time.sleep(1)
    return json.loads(host.file(STATE).content_string), line


def test_refresh_applies_a_grown_feed(host, target_ip):
    state, line = _refresh(host, "grown")
    assert (state["outcome"], state["applied"]) == ("ok", True), state
    assert _listed(host, "203.0.113.75")
    assert re.search(r"https://[0-9.]+/offenders.txt updated v4=25 v6=0", line), line
    _assert_enforced(host, target_ip)


@pytest.mark.parametrize("variant,reason", [
    ("emptied", "feed is empty"),
    ("shrunk", "shrank from 25 to 2 entries, more than blocklist_refresh_max_shrink allows (50%)"),
    ("bad-line", "not a valid IPv4 address or network: '198.51.100.300'"),
])
def test_bad_feed_keeps_the_last_good_list(host, target_ip, variant, reason):
    state, line = _refresh(host, variant)
    feed = [v for k, v in state["sources"].items() if k.endswith("/offenders.txt")][0]
    assert (state["outcome"], feed["outcome"]) == ("kept-some", "kept") and reason in feed["reason"], state
    assert reason in line and "kept v4=25" in line
    assert _listed(host, "203.0.113.75")
    _assert_enforced(host, target_ip)


def test_bad_certificate_keeps_the_last_good_list(host, target_ip):
    feeds = _host("blocklist-feeds")
    serve = "cp /srv/tls/%s.crt /srv/tls/served.crt && cp /srv/tls/%s.key /srv/tls/served.key && systemctl restart https-feeds"
    feeds.run_expect([0], "cp /srv/feeds/variants/good.txt /srv/feeds/offenders.txt && " + serve % ("untrusted", "untrusted"))
    try:
        time.sleep(1)
        state, line = _refresh(host)
    finally:
        feeds.run_expect([0], serve % ("trusted", "trusted"))
    feed = [v for k, v in state["sources"].items() if k.endswith("/offenders.txt")][0]
    assert feed["outcome"] == "kept" and "TLS error" in feed["reason"] and "CERTIFICATE_VERIFY_FAILED" in line, state
    assert _listed(host, "203.0.113.75")
    _assert_enforced(host, target_ip)
