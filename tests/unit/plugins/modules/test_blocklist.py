"""Tests for the thin blocklist module: argument handling, errors and check mode."""

import json
import os

import pytest
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.quietnode.baseline.plugins.modules import blocklist

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "blocklist")


def _run(args, capsys, nft_rc=0, nft_path="/usr/sbin/nft"):
    calls = []

    def run_command(self, cmd, **kwargs):
        calls.append(cmd[1:])
        return (nft_rc if cmd[1] == "-c" else 0), "", "Error: refused"
    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, "get_bin_path", return_value=nft_path), \
            mock.patch.object(basic.AnsibleModule, "run_command", run_command):
        with pytest.raises(SystemExit):
            blocklist.main()
    return json.loads(capsys.readouterr().out), calls


def _src(name):
    return {"path": os.path.join(FIXTURES, name)}


def test_applies_list_from_host_path(tmp_path, capsys):
    result, calls = _run({"sources": [_src("offenders.list")], "state_dir": str(tmp_path)}, capsys)
    assert result["changed"] and result["counts"] == {"v4": 4, "v6": 1}
    assert [c[0] for c in calls] == ["-t", "-c", "-f"]


def test_check_mode_changes_nothing(tmp_path, capsys):
    result, calls = _run({"sources": [_src("offenders.list")], "state_dir": str(tmp_path), "_ansible_check_mode": True}, capsys)
    assert result["changed"] and result["added"] == 5
    assert calls == [["-t", "list", "ruleset"]] and os.listdir(str(tmp_path)) == []


def test_bad_line_fails_naming_file_line_and_text(tmp_path, capsys):
    result, calls = _run({"sources": [_src("bad-line.list")], "state_dir": str(tmp_path)}, capsys)
    assert result["failed"] and "bad-line.list:3:" in result["msg"] and "192.0.2.300" in result["msg"]
    assert [c for c in calls if c[0] != "-t"] == [] and os.listdir(str(tmp_path)) == []


def test_refused_by_nft_keeps_previous_table(tmp_path, capsys):
    result, calls = _run({"sources": [_src("offenders.list")], "state_dir": str(tmp_path)}, capsys, nft_rc=1)
    assert result["failed"] and "previous table stays in force" in result["msg"]
    assert ["-f"] not in [c[:1] for c in calls] and os.listdir(str(tmp_path)) == []


def test_absent_without_nft_still_removes_the_persisted_list(tmp_path, capsys):
    # nftables uninstalled after a blocklist was persisted: no table can be loaded, but its files must go.
    for name in ("blocklist.nft", "blocklist.list"):
        (tmp_path / name).write_text("persisted\n")
    result, calls = _run({"state": "absent", "state_dir": str(tmp_path)}, capsys, nft_path=None)
    assert (result["changed"], result["load"], result["persist"]) == (True, False, True)
    assert calls == [] and os.listdir(str(tmp_path)) == []
    result, calls = _run({"state": "absent", "state_dir": str(tmp_path)}, capsys, nft_path=None)
    assert not result["changed"] and calls == []


@pytest.mark.parametrize("args,message", [
    ({"table": "bad name"}, "not a valid nftables table name"),
    ({"min_prefix_v4": 40}, "blocklist_min_prefix_v4 is 40; it must be 0-32. Nothing was changed."),
    ({"sources": [{"src": "x.list"}]}, "action plugin"),
], ids=["table-name", "prefix-range", "src-without-action"])
def test_argument_errors(tmp_path, capsys, args, message):
    args = dict(args, state_dir=str(tmp_path))
    result, _calls = _run(args, capsys)
    assert result["failed"] and message in result["msg"]


def test_missing_path_fails_but_check_mode_predicts_a_change(tmp_path, capsys):
    args = {"sources": [{"path": str(tmp_path / "later.list")}], "state_dir": str(tmp_path)}
    result, _calls = _run(args, capsys)
    assert result["failed"] and "cannot read blocklist source" in result["msg"]
    result, calls = _run(dict(args, _ansible_check_mode=True), capsys)
    assert result["changed"] and not result.get("failed")
    assert [c for c in calls if c[0] != "-t"] == []


def test_refresh_mode_writes_the_timer_config_and_off_removes_it(tmp_path, capsys):
    from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_feeds as feeds
    feed = {"name": "https://feeds.example.org/x", "url": "https://feeds.example.org/x", "format": "p2p",
            "checksum": None, "wide": False}
    cached = feeds.feed_path(str(tmp_path / "cache"), feed["url"])
    os.makedirs(os.path.dirname(cached))
    with open(cached, "wb") as handle:
        handle.write(b"Example:192.0.2.0-192.0.2.255\n")
    args = {"sources": [_src("offenders.list")], "feeds": [feed], "refresh": True,
            "state_dir": str(tmp_path / "etc"), "cache_dir": str(tmp_path / "cache")}
    result, _calls = _run(args, capsys)
    # Elements loaded, summed over the per-source sets: 192.0.2.0/24 is in both lists, so it counts twice.
    assert result["changed"] and result["counts"]["v4"] == 5
    with open(tmp_path / "cache" / feeds.CONFIG_FILE) as handle:
        config = json.load(handle)
    assert config["feeds"] == [feed] and config["sources"] == [{"path": _src("offenders.list")["path"], "format": "auto"}]
    result, _calls = _run(dict(args, refresh=False, feeds=[]), capsys)
    assert result["changed"] and not os.path.exists(tmp_path / "cache" / feeds.CONFIG_FILE) and not os.path.exists(cached)


def test_refresh_mode_fails_when_a_new_feed_cannot_be_fetched(tmp_path, capsys):
    feed = {"name": "drop", "url": "http://feeds.example.org/x", "format": "auto", "checksum": None, "wide": False}
    result, _calls = _run({"feeds": [feed], "refresh": True, "state_dir": str(tmp_path), "cache_dir": str(tmp_path)}, capsys)
    assert result["failed"] and result["msg"] == ("blocklist feed drop: http://feeds.example.org/x: the host fetches feeds "
                                                  "over https:// only. Nothing was changed.")


def test_first_fetch_records_the_merged_feed_for_the_timer(tmp_path, capsys):
    # Without the record the timer's first refresh would parse the whole feed again instead of patching it.
    from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_feeds as feeds
    from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_options import with_defaults
    feed = {"name": "drop", "url": "https://feeds.example.org/x", "format": "auto", "checksum": None, "wide": False}
    body = b"192.0.2.0/25\n192.0.2.128/25\n2001:db8::1\n"
    args = {"feeds": [feed], "refresh": True, "state_dir": str(tmp_path / "etc"), "cache_dir": str(tmp_path / "cache")}
    with mock.patch.object(blocklist, "fetch", return_value=body):
        result, _calls = _run(args, capsys)
    assert result["changed"] and result["counts"] == {"v4": 1, "v6": 1}
    params = with_defaults(dict(args))
    merged = feeds.read_merged(feeds.feed_path(args["cache_dir"], feed["url"]), feed, params, body)
    assert merged is not None and merged.texts == {4: ["192.0.2.0/24"], 6: ["2001:db8::1"]}
