"""The journal is persistent and really written to disk, with our limits in force."""


def test_journal_files_are_on_disk(host):
    # journald writes system.journal under /var/log/journal/<machine-id> once persistent.
    out = host.check_output("journalctl --header --quiet 2>/dev/null | grep '^File path:' || true")
    paths = [line.split(":", 1)[1].strip() for line in out.splitlines()]
    assert any(p.startswith("/var/log/journal/") for p in paths), out


def test_new_entries_reach_the_persistent_journal(host):
    tag = "qn-journald-probe"
    host.run_expect([0], "logger -t %s hello && journalctl --sync" % tag)
    out = host.check_output("journalctl -D /var/log/journal -t %s --no-pager -o cat" % tag)
    assert "hello" in out


def test_effective_journald_settings(host):
    conf = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    effective = {}
    for line in conf.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            effective[key.strip()] = value.strip()
    assert effective["Storage"] == "persistent"
    assert effective["MaxRetentionSec"] == "35day"
    assert int(effective["RateLimitBurst"]) >= 10000
