"""Binary record decoders, checked against fixtures written by the real tools.

wtmp.bin and btmp.bin were written by util-linux `utmpdump -r` from the
*.utmpdump.txt files beside them; pacct.bin by the kernel after `accton`
(records of this test's commands only), with `dump-acct` output kept as
pacct.dump-acct.txt; sa.bin by sysstat 12.6.1 `sadc 1 2`, with `sadf -H`
kept as sa.sadf-H.txt.  lastlog.bin has no writing tool that takes a file
name, so it was written in glibc's struct lastlog layout (int32, char[32],
char[256]) at offsets uid * 292, sparse like the real file.  wtmp.db and
lastlog2.db were written on Debian 13 by pam_wtmpdb and pam_lastlog2 (three
`su -` sessions after `wtmpdb boot`); the values below were read back with the
sqlite3 command-line tool.
"""

import datetime
import io
import os
import re
import struct

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_records as rec

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "evidence")
TYPES = {1: "RUN_LVL", 2: "BOOT_TIME", 6: "LOGIN_PROCESS", 7: "USER_PROCESS", 8: "DEAD_PROCESS"}


def _fixture(name):
    return os.path.join(FIX, name)


def _utmpdump_rows(name):
    rows = []
    with open(_fixture(name)) as handle:
        for line in handle:
            fields = [f.strip() for f in re.findall(r"\[([^\]]*)\]", line)]
            stamp = datetime.datetime.strptime(fields[7].replace(",", "."), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
            rows.append({"type": TYPES[int(fields[0])], "pid": int(fields[1]), "id": fields[2], "user": fields[3],
                         "line": fields[4], "host": fields[5], "addr": "" if fields[6] == "0.0.0.0" else fields[6],
                         "epoch": stamp})
    return rows


def _utmp_cases():
    for name in ("wtmp", "btmp"):
        with open(_fixture(name + ".bin"), "rb") as handle:
            parsed = list(rec.iter_utmp(handle))
        for i, want in enumerate(_utmpdump_rows(name + ".utmpdump.txt")):
            yield pytest.param(parsed[i], want, id="%s-%d-%s" % (name, i, want["user"] or "dead"))


@pytest.mark.parametrize("got, want", list(_utmp_cases()))
def test_utmp_record_matches_utmpdump(got, want):
    for key in ("type", "pid", "user", "line", "host", "addr"):
        assert got[key] == want[key], key
    assert got["id"].rstrip() == want["id"]
    assert got["epoch"] == pytest.approx(want["epoch"], abs=1e-6)


def test_utmp_record_count_and_short_tail():
    with open(_fixture("wtmp.bin"), "rb") as handle:
        data = handle.read()
    assert len(data) == 6 * rec.UTMP.size == 2304
    rows = list(rec.iter_utmp(io.BytesIO(data + b"\x07\x00")))
    assert len(rows) == 7 and "short record" in rows[-1]["error"]


def test_lastlog_skips_holes_and_unused_uids():
    fd = os.open(_fixture("lastlog.bin"), os.O_RDONLY)
    try:
        rows = list(rec.iter_lastlog(fd, {0: "root", 1000: "alice"}))
    finally:
        os.close(fd)
    assert [(r["uid"], r["user"], r["time"], r["line"], r["host"]) for r in rows] == [
        (0, "root", "2026-11-22T03:00:00Z", "pts/0", "203.0.113.9"),
        (1000, "alice", "2026-11-21T03:00:00Z", "pts/1", "2001:db8::7"),
        (1001, "", "2026-11-22T06:54:15Z", "ssh:notty", "198.51.100.23"),
    ]


def test_wtmpdb_entries_with_microsecond_times():
    rows = list(rec.iter_wtmpdb(_fixture("wtmp.db"), 0, 2e9))
    assert [(r["id"], r["type"], r["user"], r["service"]) for r in rows] == [
        (1, "BOOT_TIME", "soft-reboot", None), (2, "USER_PROCESS", "alice", "su-l"),
        (3, "USER_PROCESS", "alice", "su-l"), (4, "USER_PROCESS", "root", "su-l")]
    assert rows[1]["login"] == "2026-11-22T10:17:00.134658Z" and rows[1]["logout"] == "2026-11-22T10:17:00.145752Z"
    assert rows[0]["logout"] is None and rows[0]["host"] == "6.18.44-fc-v657"


def test_wtmpdb_window_keeps_sessions_that_overlap_it():
    # from just after alice's first logout to just before root's login: her second session and the
    # boot, which has no end yet, overlap the window; the sessions on either side do not
    rows = list(rec.iter_wtmpdb(_fixture("wtmp.db"), 1795342620.15, 1795342620.17))
    assert [r["id"] for r in rows] == [1, 3]


def test_lastlog2_rows():
    assert [(r["user"], r["time"], r["service"]) for r in rec.iter_lastlog2(_fixture("lastlog2.db"))] == [
        ("alice", "2026-11-22T10:17:00Z", "su-l"), ("root", "2026-11-22T10:17:00Z", "su-l")]


def test_sqlite_decoding_writes_nothing_beside_the_database(tmp_path):
    db = tmp_path / "wtmp.db"
    db.write_bytes(open(_fixture("wtmp.db"), "rb").read())
    before = db.stat()
    assert len(list(rec.iter_wtmpdb(str(db), 0, 2e9))) == 4
    assert os.listdir(str(tmp_path)) == ["wtmp.db"]
    assert (db.stat().st_mtime_ns, db.stat().st_size) == (before.st_mtime_ns, before.st_size)


def test_damaged_sqlite_database_is_an_oserror(tmp_path):
    db = tmp_path / "wtmp.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(OSError, match="unreadable SQLite database"):
        list(rec.iter_wtmpdb(str(db), 0, 2e9))


def _dump_acct_rows():
    with open(_fixture("pacct.dump-acct.txt")) as handle:
        for line in handle:
            cols = [c.strip() for c in line.split("|")]
            yield {"comm": cols[0], "etime": float(cols[4]), "uid": int(cols[5]), "mem_kb": float(cols[7]),
                   "pid": int(cols[9]), "ppid": int(cols[10]), "flags": cols[11].replace(" ", ""),
                   "exit": int(cols[12]), "btime": cols[14]}


def _acct_cases():
    with open(_fixture("pacct.bin"), "rb") as handle:
        parsed = list(rec.iter_acct(handle))
    for i, want in enumerate(_dump_acct_rows()):
        yield pytest.param(parsed[i], want, id="%d-%s" % (i, want["comm"]))


@pytest.mark.parametrize("got, want", list(_acct_cases()))
def test_acct_v3_record_matches_dump_acct(got, want):
    assert (got["comm"], got["pid"], got["ppid"], got["uid"]) == (want["comm"], want["pid"], want["ppid"], want["uid"])
    assert got["flags"] == want["flags"]
    assert got["exit_status"] == want["exit"]
    assert got["mem_kb"] == want["mem_kb"]
    assert got["elapsed_s"] == pytest.approx(want["etime"] / rec.AHZ)
    assert datetime.datetime.fromtimestamp(got["btime"], rec.UTC).strftime("%a %b %d %H:%M:%S %Y") == want["btime"]


def test_acct_signal_and_exit_codes_are_split():
    with open(_fixture("pacct.bin"), "rb") as handle:
        rows = {r["pid"]: r for r in rec.iter_acct(handle)}
    assert (rows[24820]["exit_status"], rows[24820]["signal"]) == (3, 0)  # sh -c 'exit 3'
    assert (rows[24824]["flags"], rows[24824]["signal"]) == ("X", 15)  # sleep killed by timeout
    assert rows[24822]["exit_status"] == 124


@pytest.mark.parametrize("raw, value", [
    (0, 0), (1, 1), (0x1fff, 8191), (0x2001, 8), (0x4003, 192), (0xe001, 1 << 21),
], ids=["zero", "one", "max-mantissa", "exp1", "exp2", "exp7"])
def test_comp_t(raw, value):
    assert rec.comp_t(raw) == value


def test_acct_rejects_other_versions_and_short_tail():
    good = open(_fixture("pacct.bin"), "rb").read(64)
    v2 = good[:1] + b"\x02" + good[2:]
    rows = list(rec.iter_acct(io.BytesIO(good + v2 + b"\0" * 10)))
    assert rows[0]["comm"] == "accton"
    assert rows[1] == {"error": "not an acct v3 record"} and "short record" in rows[2]["error"]


def test_acct_summary_keeps_window_and_ranks_by_cpu():
    with open(_fixture("pacct.bin"), "rb") as handle:
        rows = list(rec.iter_acct(handle))
    heavy = dict(rows[0], comm="miner", user_s=50.0, sys_s=5.0, pid=1)
    old = dict(rows[0], comm="old", btime=1000, end_epoch=1001.0)
    summary = rec.summarize_acct(rows + [heavy, old], 1795330000, 1795331000)
    assert summary["records_in_window"] == 12
    assert summary["by_command"][0]["comm"] == "miner" and summary["heaviest"][0]["pid"] == 1
    assert "old" not in [g["comm"] for g in summary["by_command"]]


def test_sa_header_matches_sadf_H():
    with open(_fixture("sa.bin"), "rb") as handle:
        hdr = rec.parse_sa_header(handle.read(4096))
    sadf = open(_fixture("sa.sadf-H.txt")).read()
    assert "sysstat version %s" % hdr["sysstat_version"] in sadf
    assert "(%s)" % hdr["format_magic"] in sadf
    assert "(%d)" % hdr["file_epoch"] in sadf and hdr["file_time"] == "2026-11-22T07:01:58Z"
    assert "File date: %s" % hdr["file_date"] in sadf
    assert "HZ = %d" % hdr["hz"] in sadf and "(%d CPU)" % hdr["cpu_count"] in sadf
    assert "Number of activities in file: %d" % hdr["activities"] in sadf
    assert "(%s)" % hdr["nodename"] in sadf and "Timezone: %s" % hdr["timezone"] in sadf
    assert "File composition: (%d,%d,%d)" % tuple(hdr["composition"]) in sadf


@pytest.mark.parametrize("raw, error", [
    (b"\x96\xd5", "shorter"),
    (struct.pack("<H", 0x1234) + b"\0" * 100, "not a sysstat data file"),
    (struct.pack(">H", 0xd596) + b"\0" * 100, "other byte order"),
], ids=["short", "bad-magic", "swapped"])
def test_sa_header_errors(raw, error):
    assert error in rec.parse_sa_header(raw)["error"]


@pytest.mark.parametrize("ts, text", [
    (0, "1970-01-01T00:00:00Z"), (1795330918.5, "2026-11-22T07:01:58.500000Z"), (None, None), (1e20, None),
], ids=["epoch", "fraction", "none", "overflow"])
def test_iso(ts, text):
    assert rec.iso(ts) == text
