"""Tests for rendering, planning and applying the blocklist table (nft faked; one real-nft test in a netns)."""

import os
import shutil
import subprocess
import uuid

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist as bl
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_nft as nftmod

TABLE = "quietnode_blocklist"


class FakeNft(object):
    """Just enough of nft: remembers which script was loaded and answers `-t list ruleset`."""

    def __init__(self):
        self.loaded = None
        self.calls = []
        self.fail_on = None

    def __call__(self, args):
        cmd = args[1:]
        self.calls.append(cmd)
        if self.fail_on and cmd[:len(self.fail_on)] == self.fail_on:
            return 1, "", "Error: syntax error"
        if cmd == ["-t", "list", "ruleset"]:
            return 0, self.loaded or "table inet firewalld {\n}\n", ""
        if cmd[0] == "-f":
            with open(cmd[1]) as handle:
                script = handle.read()
            body = script.find("table inet %s {" % TABLE)
            self.loaded = script[body:] if body >= 0 else None
        if cmd[:2] == ["delete", "table"]:
            self.loaded = None
        return 0, "", ""

    def kernel_calls(self):
        return [c for c in self.calls if c[0] in ("-f", "delete")]


@pytest.fixture
def fake(tmp_path):
    nft = FakeNft()
    return nft, nftmod.Enforcer(nft, "nft", TABLE, str(tmp_path / "state"))


def _lists(*lines):
    return bl.normalise([("test", list(lines))])


def test_render_table_is_one_transaction():
    lists = _lists("192.0.2.0/24", "2001:db8::1")
    script = nftmod.render_table(TABLE, lists, "sha256=abc input=def v4=1 v6=1")
    assert script.splitlines()[:3] == ["# quietnode-blocklist sha256=abc input=def v4=1 v6=1",
                                       "table inet %s" % TABLE, "delete table inet %s" % TABLE]
    assert 'comment "quietnode-blocklist sha256=abc v4=1 v6=1"' in script
    assert "priority raw" in script and "192.0.2.0/24" in script and "2001:db8::1" in script


def test_render_empty_sets_have_no_elements():
    script = nftmod.render_table(TABLE, _lists("192.0.2.1"), "sha256=abc")
    assert "set v6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t}" in script


def test_render_sample_limits_elements_per_set():
    lists = _lists(*["192.0.2.%d" % (2 * i) for i in range(100)])
    assert nftmod.render_table(TABLE, lists, "sha256=abc", sample=3).count("192.0.2.") == 3


def test_parse_loaded_reads_digest_and_counters():
    text = ('table inet other {\n}\ntable inet %s {\n\tcomment "quietnode-blocklist sha256=feed v4=1 v6=0"\n'
            '\tchain prerouting {\n\t\tip saddr @v4 counter packets 3 bytes 180 drop comment "quietnode blocklist v4"\n'
            '\t}\n}\n' % TABLE)
    assert nftmod.parse_loaded(text, TABLE) == (True, {"sha256": "feed", "v4": "1", "v6": "0"},
                                                {"v4": {"packets": 3, "bytes": 180}})
    assert nftmod.parse_loaded("table inet other {\n}\n", TABLE) == (False, {}, {})


def test_first_apply_checks_then_loads_then_persists(fake):
    nft, enforcer = fake
    lists = _lists("192.0.2.0/24")
    plan = enforcer.plan(lists)
    assert plan["changed"] and plan["load"] and plan["added"] == 1
    enforcer.apply(lists, plan)
    assert [c[0] for c in nft.calls] == ["-t", "-c", "-f"]
    assert nftmod.persisted_stamp(enforcer.state_dir)["sha256"] == plan["digest"]
    assert not [n for n in os.listdir(enforcer.state_dir) if n.startswith(".tmp")]


def test_unchanged_list_does_not_touch_the_kernel(fake):
    nft, enforcer = fake
    lists = _lists("192.0.2.0/24")
    enforcer.apply(lists, enforcer.plan(lists))
    nft.calls = []
    enforcer._loaded = None
    plan = enforcer.plan(_lists("192.0.2.0/25", "192.0.2.128/25"))
    assert not plan["changed"]
    assert nft.calls == [["-t", "list", "ruleset"]]


def test_identical_input_is_recognised_without_parsing(fake):
    nft, enforcer = fake
    lists = _lists("192.0.2.0/24", "2001:db8::/48")
    assert enforcer.unchanged_input("in1") is None
    enforcer.apply(lists, enforcer.plan(lists, "in1"))
    enforcer._loaded = None
    quick = enforcer.unchanged_input("in1")
    assert quick["changed"] is False and quick["counts"] == {"v4": 1, "v6": 1}
    assert enforcer.unchanged_input("in2") is None
    nft.loaded = None  # drift: the fast path must not hide it
    enforcer._loaded = None
    assert enforcer.unchanged_input("in1") is None


def test_new_input_with_same_set_only_rewrites_the_persisted_stamp(fake):
    nft, enforcer = fake
    lists = _lists("192.0.2.0/24")
    enforcer.apply(lists, enforcer.plan(lists, "in1"))
    enforcer._loaded = None
    plan = enforcer.plan(_lists("192.0.2.0/24"), "in2")
    assert plan["changed"] and plan["persist"] and not plan["load"]


def test_drift_is_detected_and_repaired(fake):
    nft, enforcer = fake
    lists = _lists("192.0.2.0/24")
    enforcer.apply(lists, enforcer.plan(lists))
    nft.loaded = None  # nft flush ruleset, or a reboot without the unit
    enforcer._loaded = None
    plan = enforcer.plan(lists)
    assert plan["changed"] and plan["load"] and not plan["persist"]
    enforcer.apply(lists, plan)
    assert nft.loaded is not None


def test_check_mode_plan_counts_adds_and_removes(fake):
    nft, enforcer = fake
    old = _lists("192.0.2.0/24", "198.51.100.1")
    enforcer.apply(old, enforcer.plan(old))
    enforcer._loaded = None
    plan = enforcer.plan(_lists("192.0.2.0/24", "198.51.100.2", "198.51.100.9"))
    assert (plan["changed"], plan["added"], plan["removed"]) == (True, 2, 1)


def test_refused_load_persists_nothing(fake):
    nft, enforcer = fake
    lists = _lists("192.0.2.0/24")
    nft.fail_on = ["-f"]
    with pytest.raises(nftmod.NftError, match="syntax error"):
        enforcer.apply(lists, enforcer.plan(lists))
    assert os.listdir(enforcer.state_dir) == []
    assert nft.loaded is None


def test_empty_list_removes_the_table(fake):
    nft, enforcer = fake
    full = _lists("192.0.2.0/24")
    enforcer.apply(full, enforcer.plan(full))
    enforcer._loaded = None
    empty = _lists()
    plan = enforcer.plan(empty)
    assert plan["changed"] and plan["load"] and plan["digest"] is None
    enforcer.apply(empty, plan)
    assert nft.loaded is None
    enforcer._loaded = None
    assert not enforcer.plan(empty)["changed"]


def test_absent_removes_table_and_files(fake):
    nft, enforcer = fake
    full = _lists("192.0.2.0/24")
    enforcer.apply(full, enforcer.plan(full))
    enforcer._loaded = None
    assert enforcer.remove(check_mode=True)["changed"] and nft.loaded is not None
    assert enforcer.remove(check_mode=False)["changed"]
    assert nft.loaded is None and os.listdir(enforcer.state_dir) == []
    enforcer._loaded = None
    assert not enforcer.remove(check_mode=False)["changed"]


def _netns_available():
    return os.geteuid() == 0 and shutil.which("nft") and shutil.which("ip")


@pytest.mark.skipif(not _netns_available(), reason="needs root, nft and ip to make a throwaway network namespace")
def test_real_nft_in_throwaway_netns(tmp_path):
    netns = "qnbl-unit-%s" % uuid.uuid4().hex[:8]
    subprocess.check_call(["ip", "netns", "add", netns])
    try:
        def run(args):
            proc = subprocess.run(["ip", "netns", "exec", netns] + args, capture_output=True, text=True, timeout=60)
            return proc.returncode, proc.stdout, proc.stderr

        def enforcer():
            return nftmod.Enforcer(run, "nft", TABLE, str(tmp_path), validate="full")
        lists = _lists("192.0.2.0/24", "198.51.100.7-198.51.100.9", "2001:db8::/48")
        enforcer().apply(lists, enforcer().plan(lists))
        assert not enforcer().plan(lists)["changed"]
        rc, out, _err = run(["nft", "list", "set", "inet", TABLE, "v4"])
        assert rc == 0 and "192.0.2.0/24" in out and "198.51.100.7-198.51.100.9" in out
        bigger = _lists("192.0.2.0/24", "203.0.113.0/24")
        enforcer().apply(bigger, enforcer().plan(bigger))
        rc, out, _err = run(["nft", "list", "set", "inet", TABLE, "v4"])
        assert "203.0.113.0/24" in out and "198.51.100.7" not in out
        empty = _lists()
        enforcer().apply(empty, enforcer().plan(empty))
        assert TABLE not in run(["nft", "-t", "list", "ruleset"])[1]
    finally:
        subprocess.call(["ip", "netns", "delete", netns])
