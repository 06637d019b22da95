"""Tests for rendering, planning and applying the blocklist table (nft faked; one real-nft test in a netns)."""

import os
import re
import shutil
import subprocess
import uuid

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist as bl
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_nft as nftmod

TABLE = "quietnode_blocklist"


class FakeNft(object):
    """Just enough of nft: a model of the table's sets and digest rule, changed by full scripts and partial ones.

    Like nft, a script is applied whole or not at all: deleting an element that is not there, or flushing a set
    that is not there, refuses it.
    """

    def __init__(self):
        self.sets = None  # {set name: set of elements} while the table exists
        self.stamp = None
        self.calls = []
        self.fail_on = None

    @property
    def loaded(self):
        """The table as `nft -t list ruleset` shows it, or None; set to None to drop it (drift, reboot)."""
        return None if self.sets is None else self.ruleset()

    @loaded.setter
    def loaded(self, value):
        assert value is None
        self.sets = None

    def ruleset(self):
        if self.sets is None:
            return "table inet firewalld {\n}\n"
        counters = "".join('\tcounter %s {\n\t\tcomment "src (IPv%s)"\n\t\tpackets 2 bytes 120\n\t}\n' % (name[:-1], name[-2])
                           for name in sorted(self.sets) if name.endswith("a") or (name.endswith("n") and name[:-1] + "a" not in self.sets))
        sets = "".join("\tset %s {\n\t}\n" % name for name in sorted(self.sets))
        return "table inet %s {\n%s%s\tchain state {\n\t\treturn comment \"%s\"\n\t}\n}\n" % (TABLE, counters, sets, self.stamp)

    def _apply(self, script):
        sets = dict((name, set(items)) for name, items in (self.sets or {}).items())
        stamp = self.stamp
        body = script.find("table inet %s {" % TABLE)
        if script.startswith("# quietnode-blocklist") and "delete table inet %s" % TABLE in script:
            if body < 0:
                return None, None
            sets = {}
            for name, elements in re.findall(r"\tset (\S+) \{\n[^}]*?elements = \{\n(.*?)\n\t\t\}", script, re.S):
                sets[name] = set(e.strip() for e in elements.split(",\n"))
            for name in re.findall(r"\tset (\S+) \{", script):
                sets.setdefault(name, set())
        for line in script.splitlines():
            match = re.match(r"delete element inet \S+ (\S+) \{ (.*) \}$", line)
            if match:
                missing = set(match.group(2).split(", ")) - sets.get(match.group(1), set())
                if missing:
                    raise ValueError("Error: Could not process rule: No such file or directory")
                sets[match.group(1)] -= set(match.group(2).split(", "))
            match = re.match(r"add set inet \S+ (\S+) \{ .*elements = \{ (.*) \}; \}$", line)
            if match:
                sets.setdefault(match.group(1), set()).update(match.group(2).split(", "))
            match = re.match(r"flush set inet \S+ (\S+)$", line)
            if match:
                if match.group(1) not in sets:
                    raise ValueError("Error: Could not process rule: No such file or directory")
                sets[match.group(1)] = set()
        match = re.search(r'return comment "([^"]*)"', script)
        return sets, match.group(1) if match else stamp

    def __call__(self, args):
        cmd = args[1:]
        self.calls.append(cmd)
        if self.fail_on and cmd[:len(self.fail_on)] == self.fail_on:
            return 1, "", "Error: syntax error"
        if cmd == ["-t", "list", "ruleset"]:
            return 0, self.ruleset(), ""
        if cmd[0] == "-f":
            with open(cmd[1]) as handle:
                script = handle.read()
            try:
                self.sets, self.stamp = self._apply(script)
            except ValueError as exc:
                return 1, "", str(exc)
        if cmd[:2] == ["delete", "table"]:
            self.sets = None
        return 0, "", ""

    def elements(self):
        """Every element the kernel's sets hold, exempt sets left out."""
        return sorted(e for name, items in self.sets.items() if not name.endswith(nftmod.EXEMPT) for e in items)

    def covered(self):
        """What the drop rules match, as canonical entries: each set's ranges minus its exempt set's, merged."""
        ranges = {4: [], 6: []}
        for name, items in self.sets.items():
            if name.endswith(nftmod.EXEMPT):
                continue
            family = int(name[-2])
            holes = bl.merge([bl.parse_entry(e)[1:] for e in self.sets.get(name + nftmod.EXEMPT, ())])
            ranges[family].extend(bl.subtract(bl.merge([bl.parse_entry(e)[1:] for e in items]), holes))
        return [bl.format_range(fam, s, e) for fam in (4, 6) for s, e in bl.merge(ranges[fam])]

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
    assert 'return comment "quietnode-blocklist sha256=abc v4=1 v6=1"' in script
    assert "priority raw" in script and "192.0.2.0/24" in script and "2001:db8::1" in script


def test_each_source_has_its_own_sets_counter_and_rule():
    lists = bl.normalise([("drop.txt", ["192.0.2.0/24", "198.51.100.1"]), ("country DE (IPv6)", ["2001:db8::/32"])])
    script = nftmod.render_table(TABLE, lists, "sha256=abc")
    v4 = nftmod.counter_name("drop.txt", 4)
    assert '\tcounter %s {\n\t\tcomment "drop.txt (IPv4)"\n\t}' % v4 in script
    # Single addresses in a hash set, networks in an interval set, both counted by the source's counter.
    assert "\tset %sa {\n\t\ttype ipv4_addr\n\t\telements" % v4 in script
    assert "\tset %sn {\n\t\ttype ipv4_addr\n\t\tflags interval\n" % v4 in script
    # Each set has an exempt set, empty after a full load, that a partial update fills with what the list dropped.
    assert "\tset %sax {\n\t\ttype ipv4_addr\n\t}" % v4 in script
    assert "\tset %snx {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}" % v4 in script
    assert 'ip saddr @%sa ip saddr != @%sax counter name "%s" drop comment "drop.txt (IPv4)"' % (v4, v4, v4) in script
    assert 'ip saddr @%sn ip saddr != @%snx counter name "%s" drop' % (v4, v4, v4) in script
    v6 = nftmod.counter_name("country DE (IPv6)", 6)
    assert 'ip6 saddr @%sn ip6 saddr != @%snx counter name "%s" drop comment "country DE (IPv6) (IPv6)"' % (v6, v6, v6) in script
    # A family a source does not list gets no set at all.
    assert nftmod.counter_name("drop.txt", 6) not in script and nftmod.counter_name("country DE (IPv6)", 4) not in script


def test_set_names_are_stable_and_valid():
    assert nftmod.set_name("a.list", 4, True) == nftmod.set_name("a.list", 4, True) != nftmod.set_name("b.list", 4, True)
    assert re.match(r"^s_[0-9a-f]{12}_v6a$", nftmod.set_name("https://x.example/a?b=\"c\"", 6, False))


def test_render_sample_limits_elements_per_set():
    lists = _lists(*["192.0.2.%d" % (2 * i) for i in range(100)])
    assert nftmod.render_table(TABLE, lists, "sha256=abc", sample=3).count("192.0.2.") == 3


def test_parse_loaded_reads_digest_and_per_source_counters():
    text = ('table inet other {\n}\ntable inet %s {\n\tcomment "quietnode blocklist"\n'
            '\tcounter s_aaaaaaaaaaaa_v4 {\n\t\tcomment "drop.txt (IPv4)"\n\t\tpackets 3 bytes 180\n\t}\n\n'
            '\tcounter s_bbbbbbbbbbbb_v4 {\n\t\tcomment "country DE (IPv4, https://x/de.zone) (IPv4)"\n\t\tpackets 2 bytes 100\n\t}\n\n'
            '\tcounter s_bbbbbbbbbbbb_v6 {\n\t\tcomment "country DE (IPv4, https://x/de.zone) (IPv6)"\n\t\tpackets 0 bytes 0\n\t}\n\n'
            '\tchain state {\n\t\treturn comment "quietnode-blocklist sha256=feed v4=1 v6=0"\n\t}\n}\n' % TABLE)
    present, stamp, counters = nftmod.parse_loaded(text, TABLE)
    assert (present, stamp) == (True, {"sha256": "feed", "v4": "1", "v6": "0"})
    assert counters == {"v4": {"packets": 5, "bytes": 280}, "v6": {"packets": 0, "bytes": 0}, "sources": {
        "drop.txt": {"v4": {"packets": 3, "bytes": 180}},
        "country DE (IPv4, https://x/de.zone)": {"v4": {"packets": 2, "bytes": 100}, "v6": {"packets": 0, "bytes": 0}}}}
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


def _applied(enforcer, lists, input_digest=None):
    enforcer._loaded = None
    plan = enforcer.plan(lists, input_digest, count_changes=False)
    enforcer.apply(lists, plan)
    return plan


def _many(count, extra=()):
    return _lists(*(["10.0.%d.%d" % (i // 100, 2 * (i % 100)) for i in range(count)] + list(extra)))


def test_small_change_is_applied_element_by_element(fake):
    nft, enforcer = fake
    _applied(enforcer, _many(200, ["192.0.2.0/24"]))
    nft.calls = []
    new = _many(198, ["192.0.2.0/24", "203.0.113.7", "203.0.113.9"])
    plan = _applied(enforcer, new)
    assert (plan["method"], plan["added"], plan["removed"]) == ("partial", 2, 2)
    assert [c[0] for c in nft.calls] == ["-t", "-f"]  # no check, no full script: the delta is one transaction
    assert nft.covered() == new.lines(4)
    # The two dropped addresses stay in their set and are exempt; the kernel, the list and the boot script agree.
    addresses = nftmod.set_name("test", 4, False)
    assert sorted(nft.sets[addresses + nftmod.EXEMPT]) == ["10.0.1.196", "10.0.1.198"]
    digest, sections, held = nftmod.read_sections(os.path.join(enforcer.state_dir, nftmod.LIST_FILE))
    assert dict((name, set(lines)) for name, lines in sections.items()) == nft.sets
    # The digest in the kernel and in both persisted files is the new one, so a re-run changes nothing.
    assert nft.stamp.split()[1] == "sha256=" + plan["digest"] == "sha256=" + nftmod.persisted_stamp(enforcer.state_dir)["sha256"]
    assert digest == plan["digest"] and nft.stamp.split()[-1] == "held=" + held
    enforcer._loaded = None
    assert not enforcer.plan(new)["changed"]
    boot = FakeNft()
    boot(["nft", "-f", os.path.join(enforcer.state_dir, nftmod.NFT_FILE)])
    assert boot.sets == nft.sets and boot.stamp == nft.stamp


def test_readded_entry_leaves_the_exempt_set_and_counts_stay_right(fake):
    nft, enforcer = fake
    _applied(enforcer, _many(100))
    _applied(enforcer, _many(99, ["203.0.113.1"]))
    plan = _applied(enforcer, _many(100, ["203.0.113.1"]))
    assert (plan["method"], plan["added"], plan["removed"]) == ("partial", 1, 0)
    assert nft.covered() == _many(100, ["203.0.113.1"]).lines(4)
    assert not nft.sets[nftmod.set_name("test", 4, False) + nftmod.EXEMPT]
    enforcer._loaded = None
    assert enforcer.plan(_many(100), count_changes=True)["removed"] == 1


def test_partial_script_never_deletes_and_moves_the_digest():
    item = nftmod.layout(_lists("192.0.2.1"))[0]
    script = nftmod.render_delta(TABLE, "sha256=new input=x v4=1 v6=0 held=abc", [(item, ["192.0.2.1"], ["192.0.2.9"])])
    assert script.splitlines()[1:] == [
        "flush chain inet %s state" % TABLE,
        'add rule inet %s state return comment "quietnode-blocklist sha256=new v4=1 v6=0 held=abc"' % TABLE,
        "flush set inet %s %s" % (TABLE, item.exempt),
        "add set inet %s %s { type ipv4_addr; elements = { 192.0.2.9 }; }" % (TABLE, item.exempt),
        "add set inet %s %s { type ipv4_addr; elements = { 192.0.2.1 }; }" % (TABLE, item.name)]
    assert nftmod.render_delta(TABLE, "sha256=new", [(item, ["192.0.2.1"], None)]).count("flush set") == 0


@pytest.mark.parametrize("before,after,adds,exempt", [
    (["10.0.0.0/16"], ["10.0.0.0/17"], [], ["10.0.128.0/17"]),
    (["10.0.0.0/17"], ["10.0.0.0/16"], ["10.0.128.0/17"], []),
    (["10.0.0.0/24", "10.9.0.0/24"], ["10.0.0.128/25", "10.9.0.0-10.9.1.5"], ["10.9.1.0-10.9.1.5"], ["10.0.0.0/25"]),
    (["10.0.0.0/24"], ["10.0.0.0/24", "10.5.0.0/16"], ["10.5.0.0/16"], []),
], ids=["shrinks", "grows", "moves", "added"])
def test_interval_set_changes_become_additions_and_exempt_ranges(before, after, adds, exempt):
    item = nftmod.layout(_lists(*after))[-1]
    assert nftmod.set_delta(item, before, [], item.lines)[:2] == (adds, exempt)


def test_interval_changes_keep_coverage_exact_over_many_updates(fake):
    nft, enforcer = fake
    nets = ["10.%d.0.0/16" % (2 * i) for i in range(40)]
    _applied(enforcer, _lists(*nets))
    for step, new in enumerate([nets[1:], nets[1:] + ["10.1.0.0/16"], ["10.0.0.0/15"] + nets[1:], nets[2:] + ["10.0.0.0/17"]]):
        lists = _lists(*new)
        plan = _applied(enforcer, lists)
        assert plan["method"] == "partial", step
        assert nft.covered() == lists.lines(4), step
    assert "delete element" not in "".join(open(os.path.join(enforcer.state_dir, nftmod.NFT_FILE)).read())


@pytest.mark.parametrize("case", ["large-diff", "new-source", "kernel-drift", "list-file-lost", "old-list-file"])
def test_full_replace_when_a_partial_update_is_not_safe(fake, case):
    nft, enforcer = fake
    _applied(enforcer, _many(100))
    new = _many(100, ["203.0.113.1"])
    if case == "large-diff":
        new = _many(60, ["198.51.100.%d" % (2 * i) for i in range(40)])
    elif case == "new-source":
        new = bl.normalise([("test", _many(100).lines(4)), ("other", ["203.0.113.1"])])
    elif case == "kernel-drift":
        nft.stamp = 'quietnode-blocklist sha256=%s v4=1 v6=0' % ("0" * 64)
    elif case == "list-file-lost":
        os.unlink(os.path.join(enforcer.state_dir, nftmod.LIST_FILE))
    else:
        with open(os.path.join(enforcer.state_dir, nftmod.LIST_FILE), "w") as handle:
            handle.write(_many(100).render())  # a list written before per-source sets
    nft.calls = []
    plan = _applied(enforcer, new)
    assert plan["method"] == "replace" and [c[0] for c in nft.calls] == ["-t", "-c", "-f"]
    assert nft.elements() == sorted(line for item in nftmod.layout(new) for line in item.lines)


def test_refused_partial_update_falls_back_to_the_full_replace(fake):
    nft, enforcer = fake
    _applied(enforcer, _many(100))
    del nft.sets[nftmod.set_name("test", 4, False) + nftmod.EXEMPT]  # someone deleted a set by hand
    nft.calls = []
    new = _many(99, ["203.0.113.1"])
    with open(os.path.join(enforcer.state_dir, nftmod.LIST_FILE)) as handle:
        before = handle.read()
    plan = _applied(enforcer, new)
    assert plan["method"] == "replace" and "No such file" in plan["partial_refused"]
    assert [c[0] for c in nft.calls] == ["-t", "-f", "-c", "-f"]
    assert nft.elements() == sorted(new.lines(4)) and nft.covered() == new.lines(4)
    with open(os.path.join(enforcer.state_dir, nftmod.LIST_FILE)) as handle:
        assert handle.read() != before


def test_check_mode_names_the_method(fake):
    nft, enforcer = fake
    _applied(enforcer, _many(100))
    enforcer._loaded = None
    plan = enforcer.plan(_many(100, ["203.0.113.1"]))
    assert (plan["method"], plan["added"], plan["removed"]) == ("partial", 1, 0)
    assert [c[0] for c in nft.calls if c[0] == "-f"] == ["-f"]  # only the first apply


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
        others = ["10.0.0.%d" % (2 * i) for i in range(30)]
        lists = _lists("192.0.2.0/24", "198.51.100.7-198.51.100.9", "203.0.113.5", "2001:db8::/48", *others)
        enforcer().apply(lists, enforcer().plan(lists))
        assert not enforcer().plan(lists)["changed"]
        networks = nftmod.set_name("test", 4, True)
        rc, out, _err = run(["nft", "list", "set", "inet", TABLE, networks])
        assert rc == 0 and "192.0.2.0/24" in out and "198.51.100.7-198.51.100.9" in out
        def listed(name):
            out = run(["nft", "list", "set", "inet", TABLE, name])[1]
            if "elements = {" not in out:
                return []
            body = out[out.index("elements = {") + 12:out.index("}", out.index("elements = {"))]
            return sorted(e.strip() for e in body.replace("\n", " ").split(","))

        def ranges(lines):
            return bl.merge([bl.parse_entry(line)[1:] for line in lines])
        # A small change adds elements and fills exempt sets, a range that grows and one that shrinks included: what
        # the rules match is exactly the new list, and the kernel's sets are those of the persisted list.
        changed = _lists("192.0.2.0/25", "198.51.100.7-198.51.100.12", "203.0.113.6", "2001:db8::/48", *others)
        plan = enforcer().plan(changed)
        enforcer().apply(changed, plan)
        assert plan["method"] == "partial" and not enforcer().plan(changed)["changed"]
        sections = nftmod.read_sections(os.path.join(str(tmp_path), nftmod.LIST_FILE))[1]
        for item in nftmod.layout(changed):
            assert bl.subtract(ranges(listed(item.name)), ranges(listed(item.exempt))) == ranges(item.lines)
            assert (listed(item.name), listed(item.exempt)) == (sorted(sections[item.name]), sorted(sections[item.exempt]))
        assert listed(networks + nftmod.EXEMPT) == ["192.0.2.128/25"]
        bigger = _lists("192.0.2.0/24", "203.0.113.0/24")
        enforcer().apply(bigger, enforcer().plan(bigger))
        rc, out, _err = run(["nft", "list", "set", "inet", TABLE, networks])
        assert "203.0.113.0/24" in out and "198.51.100.7" not in out
        empty = _lists()
        enforcer().apply(empty, enforcer().plan(empty))
        assert TABLE not in run(["nft", "-t", "list", "ruleset"])[1]
    finally:
        subprocess.call(["ip", "netns", "delete", netns])


def test_the_role_looks_for_the_files_the_module_persists():
    # roles/blocklist/tasks/absent.yml finds leftovers by these names; a rename here must reach the role.
    import yaml
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
    with open(os.path.join(root, "roles", "blocklist", "vars", "main.yml")) as handle:
        names = yaml.safe_load(handle)["__blocklist_persisted_files"]
    assert sorted(names) == sorted([nftmod.NFT_FILE, nftmod.LIST_FILE])
