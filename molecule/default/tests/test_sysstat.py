"""sysstat samples once a minute through its timer, with the network groups, and sar reads what it wrote."""
import time

import pytest


def _data_dir(host):
    return "/var/log/sysstat" if host.system_info.distribution in ("debian", "ubuntu") else "/var/log/sa"


def _now(host):
    return int(host.check_output("date +%s"))


def _epoch(host, timestamp):
    return int(host.check_output("date -d %s +%%s", timestamp))


def _timer(host, prop):
    return host.check_output("systemctl show --value -p %s sysstat-collect.timer" % prop)


def test_collection_timer_is_active_and_next_sample_within_a_minute(host):
    assert host.service("sysstat-collect.timer").is_enabled
    assert _timer(host, "ActiveState") == "active"
    # The effective schedule is the drop-in's, not the packaged */10.
    assert "OnCalendar=*-*-* *:*:00" in _timer(host, "TimersCalendar")
    next_elapse = _epoch(host, _timer(host, "NextElapseUSecRealtime"))
    assert 0 <= next_elapse - _now(host) <= 60


def test_timer_has_fired_within_the_last_minute(host):
    # Converge, idempotence and the check-mode pass take over a minute, so it has normally fired
    # already; otherwise wait (bounded) for the next minute boundary.
    deadline = time.time() + 75
    while True:
        last = _timer(host, "LastTriggerUSec")
        age = _now(host) - _epoch(host, last) if last and last != "n/a" else None
        if age is not None and age <= 65:
            break
        assert time.time() < deadline, "sysstat-collect.timer has not fired in the last 65 s (last: %r)" % last
        time.sleep(5)
    assert host.check_output("systemctl show --value -p Result sysstat-collect.service") == "success"


def test_sar_reads_network_counters_written_by_the_collector(host):
    # Two samples through the collector's own unit make one interval sar can report on.
    host.run_expect([0], "systemctl start sysstat-collect.service && sleep 1 && systemctl start sysstat-collect.service")
    today = "%s/sa%s" % (_data_dir(host), host.check_output("date +%Y%m%d"))
    assert host.file(today).is_file, "with 35 days of retention today's file is saYYYYMMDD"
    # Fails with "Requested activities not available" when sadc runs without -S SNMP,IPV6.
    out = host.check_output("LC_ALL=C sar -n DEV,TCP,ETCP,UDP,IP6 -f %s" % today)
    for header in ("IFACE", "active/s", "atmptf/s", "idgm/s", "irec6/s"):
        assert header in out
    assert "Average:" in out
    # sar without -f finds the long file name on its own.
    assert "active/s" in host.check_output("LC_ALL=C sar -n TCP")
    assert "tps" in host.check_output("LC_ALL=C sar -d -f %s" % today)


@pytest.fixture
def aged_files(host):
    directory = _data_dir(host)
    # sa2 summarises yesterday's file first and stops when there is none, as on a host's first day.
    yesterday = "%s/sa%s" % (directory, host.check_output("date -d yesterday +%Y%m%d"))
    created_yesterday = not host.file(yesterday).exists
    names = {"expired": "sa20200101", "compress": "sa20200102", "recent": "sa20200103"}
    ages = {"expired": 40, "compress": 12, "recent": 5}
    for key, name in names.items():
        host.run_expect([0], "head -c 4096 /dev/urandom > {0}/{1} && touch -d '{2} days ago' {0}/{1}".format(
            directory, name, ages[key]))
    if created_yesterday:
        host.run_expect([0], "cp {0}/sa{1} {2} && touch -d yesterday {2}".format(
            directory, host.check_output("date +%Y%m%d"), yesterday))
    yield {key: "%s/%s" % (directory, name) for key, name in names.items()}
    host.run("rm -f %s/sa2020010[123] %s/sa2020010[123].xz" % (directory, directory))
    if created_yesterday:
        host.run("rm -f %s %s.xz" % (yesterday, yesterday))


def test_daily_summary_expires_after_35_days_and_compresses_after_10(host, aged_files):
    host.run_expect([0], "systemctl start sysstat-summary.service")
    assert not host.file(aged_files["expired"]).exists
    assert host.file(aged_files["compress"] + ".xz").exists
    assert host.file(aged_files["recent"]).exists
    assert not host.file(aged_files["recent"] + ".xz").exists
