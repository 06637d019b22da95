"""The one test suite of the dead-man switch (roles/deadman), run against each role's instance.

A scenario imports these tests and defines a ``deadman`` fixture: {script, unit, tag, path}, where
``path`` is a guarded file the test may rewrite (it is put back). Everything runs on the real host:
systemd-run timers, the real daemon reload, the journal.
"""

import shlex
import time

import pytest


def _status(host, deadman):
    return host.check_output("sh %s status", deadman["script"])


def _guarded_paths(host, deadman):
    """The paths the script saves, read from its own `set --` line."""
    for line in host.file(deadman["script"]).content_string.splitlines():
        if line.startswith('set -- "${1:-}" "${2:-}"'):
            return shlex.split(line)[4:]
    raise AssertionError("no path list in %s" % deadman["script"])


@pytest.fixture
def guarded(host, deadman):
    """The guarded file's content before the test; after it, the file is back and no timer is left."""
    before = host.file(deadman["path"]).content_string
    yield before
    host.run("sh %s disarm", deadman["script"])
    if host.file(deadman["path"]).content_string != before:
        host.run_expect([0], "printf '%%s' %s > %s", before, deadman["path"])
    assert _status(host, deadman) != "pending"


def test_deadman_lists_the_guarded_path(host, deadman):
    assert deadman["path"] in _guarded_paths(host, deadman) or any(
        deadman["path"].startswith(p.rstrip("/") + "/") for p in _guarded_paths(host, deadman))


def test_deadman_arm_then_disarm_keeps_the_change(host, deadman, guarded):
    host.run_expect([0], "sh %s arm 300", deadman["script"])
    assert _status(host, deadman) == "pending"
    assert host.service("%s.timer" % deadman["unit"]).is_running
    host.run_expect([0], "echo '# proven change' >> %s", deadman["path"])
    disarm = host.run("sh %s disarm", deadman["script"])
    assert disarm.rc == 0, disarm.stderr
    assert _status(host, deadman) == "idle"
    assert host.file(deadman["path"]).content_string.endswith("# proven change\n")


def test_deadman_rearm_while_pending_keeps_the_last_proven_state(host, deadman, guarded):
    host.run_expect([0], "sh %s arm 300", deadman["script"])
    host.run_expect([0], "echo '# an unproven change' >> %s", deadman["path"])
    # A re-run inside the window: it must not save the unproven file as the state to restore.
    rearm = host.run("sh %s arm 300", deadman["script"])
    assert rearm.rc == 0 and "keeping its backup" in rearm.stderr, rearm.stderr
    host.run_expect([0], "sh %s restore", deadman["script"])
    assert host.file(deadman["path"]).content_string == guarded
    assert _status(host, deadman) == "restored"
    disarm = host.run("sh %s disarm", deadman["script"])
    assert disarm.rc == 3 and "the dead-man timer ran out before the change was proven" in disarm.stderr


def test_deadman_timer_restores_by_itself_and_says_so(host, deadman, guarded):
    host.run_expect([0], "sh %s arm 3", deadman["script"])
    host.run_expect([0], "echo '# never proven' >> %s", deadman["path"])
    deadline = time.time() + 30
    while time.time() < deadline and _status(host, deadman) != "restored":
        time.sleep(1)
    assert _status(host, deadman) == "restored"
    assert host.file(deadman["path"]).content_string == guarded
    log = host.check_output("journalctl -q --no-pager -o cat -t %s --since -2min", deadman["tag"])
    assert "the change was not proven by a fresh login in time: restored the previous" in log, log


def test_deadman_removes_a_path_that_did_not_exist_when_armed(host, deadman, guarded):
    paths = _guarded_paths(host, deadman)
    missing = [p for p in paths if not host.file(p).exists]
    # Else a file inside a guarded directory, which restore must take away with the directory's old state.
    extra = missing[0] if missing else [p for p in paths if host.file(p).is_directory][0] + "/qn-deadman-test"
    assert not host.file(extra).exists
    host.run_expect([0], "sh %s arm 300", deadman["script"])
    host.run_expect([0], "mkdir -p $(dirname %s) && echo new > %s", extra, extra)
    try:
        host.run_expect([0], "sh %s restore", deadman["script"])
        assert not host.file(extra).exists
    finally:
        host.run("rm -f %s", extra)


def test_deadman_usage_is_refused(host, deadman):
    for args in ("", "arm", "arm soon", "cancel"):
        result = host.run("sh %s %s", deadman["script"], args)
        assert result.rc == 2 and "usage:" in result.stderr, (args, result.stderr)
