"""Verify what the host really does: drops from a listed client, lets the allowlisted one in, survives reloads."""

import json
import os
import re
import sys
import time

import pytest
import testinfra

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
import qn_run  # noqa: E402  pylint: disable=wrong-import-position

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


def _counters(host):
    """{counter comment: packets} of the per-source named counters."""
    data = json.loads(host.check_output("nft -j list counters table inet %s" % TABLE))
    return dict((item["counter"]["comment"], item["counter"]["packets"]) for item in data["nftables"] if "counter" in item)


def _v4_drops(host):
    return sum(packets for comment, packets in _counters(host).items() if comment.endswith("(IPv4)"))


def _element(item):
    if isinstance(item, dict) and "prefix" in item:
        return "%s/%d" % (item["prefix"]["addr"], item["prefix"]["len"])
    if isinstance(item, dict) and "range" in item:
        return "%s-%s" % tuple(item["range"])
    return item


def _kernel_sets(host):
    """{set name: sorted elements} as the kernel holds them."""
    data = json.loads(host.check_output("nft -j list table inet %s" % TABLE))
    return dict((item["set"]["name"], sorted(_element(e) for e in item["set"].get("elem", [])))
                for item in data["nftables"] if "set" in item)


def _persisted_sets(host):
    """{set name: sorted elements} of the persisted list, what a full load (the boot unit) puts in the kernel."""
    sets = {}
    for chunk in host.file("/etc/quietnode/blocklist/blocklist.list").content_string.split("# set ")[1:]:
        name, _sep, body = chunk.partition("\n")
        sets[name] = sorted(line for line in body.splitlines() if line)
    return sets


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


def test_drops_are_counted_per_source(host, target_ip):
    # The blocked client is listed by the AQ zone only: its counter rises, the other sources' stay put.
    before = _counters(host)
    assert "country AQ (IPv4) (IPv4)" in before and "offenders.list (IPv4)" in before, before
    for _attempt in range(ATTEMPTS):
        assert _banner(_host("blocklist-blocked"), target_ip) == ""
    after = _counters(host)
    assert after["country AQ (IPv4) (IPv4)"] >= before["country AQ (IPv4) (IPv4)"] + ATTEMPTS
    assert dict((k, v) for k, v in after.items() if not k.startswith("country AQ (IPv4)")) == \
        dict((k, v) for k, v in before.items() if not k.startswith("country AQ (IPv4)"))


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
    assert [name for name in _kernel_sets(host) if _listed_in(host, name, blocked)], "no set holds %s" % blocked
    assert "country AQ (IPv4)" in host.file("/var/lib/quietnode/blocklist/refresh.json").content_string
    assert _banner(_host("blocklist-blocked"), target_ip) == ""


def test_refresh_timer_is_daily_with_a_random_delay(host):
    timer = host.service("%s.timer" % REFRESH)
    assert timer.is_enabled and timer.is_running
    out = host.check_output("systemctl show %s.timer -p TimersCalendar -p RandomizedDelayUSec" % REFRESH)
    assert ("OnCalendar=daily" in out or "OnCalendar=*-*-* 00:00:00" in out) and "RandomizedDelayUSec=1h" in out


def _listed_in(host, name, address):
    return host.run("nft get element inet %s %s { %s }" % (TABLE, name, address)).rc == 0


def _listed(host, address):
    return any(_listed_in(host, name, address) for name in _kernel_sets(host) if name.endswith(("_v4a", "_v4n")))


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
    counted = _counters(host)
    state, line = _refresh(host, "grown")
    assert (state["outcome"], state["applied"], state["method"]) == ("ok", True, "partial"), state
    assert "applied=yes (partial)" in line and _listed(host, "203.0.113.75")
    assert re.search(r"https://[0-9.]+/offenders.txt updated v4=25 v6=0", line), line
    # The element-by-element update left the kernel with exactly the intended sets: those of the persisted
    # list, and those a full load of the boot script puts there; the counters kept counting.
    patched = _kernel_sets(host)
    assert patched == _persisted_sets(host)
    assert all(_counters(host)[name] >= packets for name, packets in counted.items())
    host.run_expect([0], "systemctl restart quietnode-blocklist.service")
    assert _kernel_sets(host) == patched
    _assert_enforced(host, target_ip)


def test_refresh_runs_from_cached_bytecode(host):
    # make bench times a refresh this way: the timer's earlier runs left its module_utils' bytecode beside them.
    cached = host.check_output("find /usr/local/lib/quietnode-blocklist -name '*.pyc'")
    assert "_blocklist_feeds." in cached and "_blocklist_nft." in cached, cached


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


def _converge(*options):
    """Re-run this scenario's converge playbook as an operator would; (rc, output)."""
    return qn_run.playbook(["-i", INVENTORY, os.path.join(qn_run.PROJECT, "molecule", "blocklist", "converge.yml")]
                           + list(options), os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ansible.cfg"))


def _task_output(out, name):
    """What the run printed for the task named name, up to the next task."""
    return out.split("%s]" % name, 1)[1].split("\nTASK [", 1)[0] if "%s]" % name in out else None


# Last: it takes the blocklist away.
def test_no_sources_removes_everything_and_a_rerun_only_looks(host, target_ip):
    nothing = ["-e", '{"blocklist_sources": [], "blocklist_countries": []}']
    rc, out = _converge(*nothing)
    assert rc == 0, out[-3000:]
    assert host.run("nft list table inet %s" % TABLE).rc != 0
    for path in ("/etc/systemd/system/quietnode-blocklist.service",
                 "/etc/systemd/system/nftables.service.d/quietnode-blocklist.conf",
                 "/etc/systemd/system/%s.timer" % REFRESH, "/etc/systemd/system/%s.service" % REFRESH,
                 "/usr/local/sbin/%s" % REFRESH, "/usr/local/lib/quietnode-blocklist", "/var/lib/quietnode/blocklist",
                 "/etc/quietnode/blocklist/blocklist.nft", "/etc/quietnode/blocklist/blocklist.list"):
        assert not host.file(path).exists, path
    assert _banner(_host("blocklist-blocked"), target_ip) == "SSH-2.0"
    rc, out = _converge(*nothing)
    assert rc == 0 and re.search(r"\nblocklist-%s +: ok=\d+ +changed=0 " % DISTRO, out), out[-3000:]
    removal = _task_output(out, "Remove what an earlier blocklist left")
    assert removal is not None and "skipping:" in removal and "ok:" not in removal, out[-3000:]
