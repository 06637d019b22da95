"""Collector pieces: window parsing, streaming observers, command runner and a small real collection."""

import os

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_bundle as eb
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_collect as col
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_process as proc_mod
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_records as rec

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "evidence")
NOW = 1795330918.0


@pytest.mark.parametrize("text, epoch", [
    ("-48h", NOW - 172800), ("-90m", NOW - 5400), ("-2d", NOW - 172800), ("-30s", NOW - 30),
    ("@1795300000", 1795300000.0), ("2026-11-22T07:01:58Z", NOW), ("2026-11-22 07:01:58", NOW),
    ("2026-11-22T08:01:58+01:00", NOW), ("2026-11-22T07:01", NOW - 58), ("2026-11-22", NOW - 25318),
], ids=["hours", "minutes", "days", "seconds", "epoch", "iso-z", "space", "offset", "no-seconds", "date"])
def test_parse_time(text, epoch):
    assert col.parse_time(text, NOW) == pytest.approx(epoch)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "-5w", ""], ids=["word", "month13", "weeks", "empty"])
def test_parse_time_rejects_with_a_hint(text):
    with pytest.raises(ValueError, match="UTC time"):
        col.parse_time(text, NOW)


def test_line_observer_joins_lines_split_across_chunks():
    lines = []
    obs = col.LineObserver(lines.extend)
    for chunk in (b"one\ntw", b"o\n", b"thr", b"ee"):
        obs(chunk)
    obs.close()
    assert lines == [b"one", b"two", b"three"]


def test_block_observer_passes_whole_lines_as_blocks():
    blocks = []
    obs = col.BlockObserver(blocks.append, max_line=8)
    for chunk in (b"one\ntw", b"o\n", b"thr", b"ee\nfour\nfi", b"x" * 20):
        obs(chunk)
    obs.close()
    assert blocks == [b"one", b"two", b"three\nfour", b"x" * 8]


def test_background_observer_sees_every_chunk_in_order_and_closes_its_observer():
    blocks = []
    obs = col.BackgroundObserver(col.BlockObserver(blocks.append), depth=2)
    for i in range(200):
        obs(b"line %d\n" % i)
    obs(b"tail")
    obs.close()
    assert blocks == [b"line %d" % i for i in range(200)] + [b"tail"]
    assert not obs.thread.is_alive()


def test_background_observer_raises_its_observers_error_on_close():
    def broken(_chunk):
        raise ValueError("parser bug")
    obs = col.BackgroundObserver(broken)
    obs(b"x")
    obs(b"y")
    with pytest.raises(ValueError, match="parser bug"):
        obs.close()


def test_acct_observer_decodes_records_split_across_chunks():
    data = open(os.path.join(FIX, "pacct.bin"), "rb").read()
    summary = rec.AcctSummary(0, 2e9)
    obs = col.AcctObserver(summary)
    for off in range(0, len(data), 100):
        obs(data[off:off + 100])
    result = summary.result()
    assert result["records_in_window"] == 11 and result["undecodable_records"] == 0
    assert sorted(g["comm"] for g in result["by_command"]) == ["accton", "ls", "sh", "sleep", "timeout", "true"]


def test_decoded_records_are_spooled_as_json_lines(tmp_path):
    writer, collector = _collector(tmp_path, [])
    collector.jsonl("logins/x.jsonl", iter([{"a": 1}, {"b": 2}]), "logins", source="test")
    writer.close(b"")
    assert writer.estimate["logins"] == {"files": 1, "bytes": len(b"{\"a\": 1}\n{\"b\": 2}\n")}


def _collector(tmp_path, groups, timeout=5, dry_run=False):
    writer = eb.BundleWriter(str(tmp_path / "b.tar.gz"), "ev", 1 << 20, 64 << 20, dry_run=dry_run)
    return writer, col.Collector(writer, NOW - 3600, NOW, groups, timeout)


def test_command_timeout_kills_and_keeps_output(tmp_path, monkeypatch):
    writer, collector = _collector(tmp_path, [], timeout=1)
    monkeypatch.setattr(col, "PATH", ("/usr/bin", "/bin"))
    rc = collector.run("x.txt", ["sh", "-c", "echo started; exec sleep 20"], "t")
    assert rc == -9 and "timed out" in collector.log.commands[0]["note"]
    writer.close(collector.log.data())
    members = eb.verify_bundle(str(tmp_path / "b.tar.gz"))
    assert members["ok"]


def test_streamed_lines_stop_at_the_timeout_and_say_so(tmp_path, monkeypatch):
    """atop's decoder reads its command line by line through the engine's one chunk reader."""
    writer, collector = _collector(tmp_path, [], timeout=1)
    monkeypatch.setattr(col, "PATH", ("/usr/bin", "/bin"))
    lines = list(proc_mod.stream_lines(collector.engine, ["sh", "-c", "echo one; echo two; exec sleep 20"]))
    assert lines == ["one", "two"]
    assert "timed out" in collector.log.commands[0]["note"]
    writer.close(b"")


def test_streamed_lines_keep_a_last_line_without_newline(tmp_path, monkeypatch):
    writer, collector = _collector(tmp_path, [])
    monkeypatch.setattr(col, "PATH", ("/usr/bin", "/bin"))
    assert list(proc_mod.stream_lines(collector.engine, ["printf", "a\\nb"])) == ["a", "b"]
    assert collector.log.commands[0]["note"] == ""
    writer.close(b"")


def test_command_output_cap(tmp_path):
    writer, collector = _collector(tmp_path, [])
    collector.run("big.txt", ["head", "-c", "3000000", "/dev/zero"], "t", cap=1000)
    assert "capped" in collector.log.commands[0]["note"]
    assert writer.estimate["t"] == {"files": 1, "bytes": 1000}
    writer.close(b"")


def test_missing_command_is_logged_not_run(tmp_path):
    writer, collector = _collector(tmp_path, [])
    assert collector.run("x", ["no-such-tool-evid"], "t") is None
    assert "not present: no-such-tool-evid" in collector.log.data().decode()
    writer.close(b"")


def test_small_real_collection_is_verifiable(tmp_path):
    writer, collector = _collector(tmp_path, ["accounts", "cron", "system"])
    collector.collect()
    sha, _size = writer.close(collector.log.data())
    result = eb.verify_bundle(str(tmp_path / "b.tar.gz"), sha)
    assert result["ok"] and result["checked"] > 3
    assert {r["recorder"] for r in collector.readiness} == set()  # these groups judge no recorder


def test_dry_run_collection_runs_no_command(tmp_path):
    writer, collector = _collector(tmp_path, ["ssh", "cron"], dry_run=True)
    collector.collect()
    writer.close(b"")
    assert collector.log.commands == [] and not os.path.exists(str(tmp_path / "b.tar.gz"))


def test_clock_state_reports_zone_and_kernel_clock():
    state = col.clock_state()
    assert state["utc_now"].endswith("Z") and "clock_state" in state and "tzname" in state


def test_bundle_name_is_host_and_utc_stamp():
    assert col.bundle_name("web1.example.org", NOW) == ("evidence-web1-20261122T070158Z", "20261122T070158Z")


def test_a_failing_command_is_an_error_in_the_manifest(tmp_path):
    writer, collector = _collector(tmp_path, [])
    assert collector.engine.run("x.txt", ["sh", "-c", "echo 'Error parsing start date' >&2; exit 1"], "audit") == 1
    assert collector.engine.last_error == "exit code 1: Error parsing start date"
    writer.close(b"")
    manifest = _manifest(tmp_path)
    assert manifest["x.txt"]["error"] == "exit code 1: Error parsing start date"


def test_a_silent_command_is_an_error_when_the_check_says_so(tmp_path):
    writer, collector = _collector(tmp_path, [])
    check = lambda rc, written: None if written else "printed nothing"  # noqa: E731
    collector.engine.run("quiet.txt", ["true"], "audit", check=check)
    collector.engine.run("loud.txt", ["echo", "type=DAEMON_START"], "audit", check=check)
    writer.close(b"")
    manifest = _manifest(tmp_path)
    assert manifest["quiet.txt"]["error"] == "printed nothing" and manifest["loud.txt"]["error"] is None


def _manifest(tmp_path):
    import json
    import tarfile
    with tarfile.open(str(tmp_path / "b.tar.gz")) as tar:
        data = tar.extractfile("ev/manifest.jsonl").read()
    return dict((row["path"], row) for row in map(json.loads, data.splitlines()))
