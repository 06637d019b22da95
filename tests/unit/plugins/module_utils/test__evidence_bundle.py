"""Edge cases of the streaming bundle writer, on real files.

"Unreadable" is made real although tests run as root: the writer runs in a
forked child that drops to uid 65534 before it opens a root-only 0600 file,
so open() genuinely fails with EACCES.  A vanished file is a name that is
deleted before it is collected.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_bundle as eb

MIB = 1 << 20


def _write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def _bundle(tmp_path, build, max_file=64 * MIB, max_bundle=1024 * MIB):
    out = str(tmp_path / "b.tar.gz")
    writer = eb.BundleWriter(out, "ev", max_file, max_bundle)
    build(writer)
    sha, size = writer.close(b"log\n")
    assert sha == eb.sha256_file(out) and size == os.path.getsize(out)
    return out, sha


def _read(out):
    members, manifest = {}, []
    with tarfile.open(out, "r:gz") as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()
            if member.name == "ev/manifest.jsonl":
                manifest = [json.loads(line) for line in data.splitlines()]
            else:
                members[member.name] = data
    return members, {m["path"]: m for m in manifest}


def test_regular_file_round_trip_and_verify(tmp_path):
    src = _write(str(tmp_path / "a.log"), b"hello\n" * 1000)
    out, sha = _bundle(tmp_path, lambda w: w.add_file(src, "logs", root=str(tmp_path)))
    members, manifest = _read(out)
    entry = manifest[src]
    assert members["ev/files" + src] == b"hello\n" * 1000
    assert entry["sha256"] == hashlib.sha256(b"hello\n" * 1000).hexdigest()
    assert (entry["truncated"], entry["changed_while_read"], entry["error"], entry["noatime"]) == (False, False, None, True)
    assert entry["mode"] == "%04o" % stat.S_IMODE(os.stat(src).st_mode) and entry["owner"] == "root"
    assert entry["mtime"].endswith("Z") and entry["ctime"].endswith("Z")
    assert eb.verify_bundle(out, sha) == {"ok": True, "sha256": sha, "checked": 2, "problems": []}


def test_symlink_loop_is_recorded_not_followed(tmp_path):
    os.symlink("b", str(tmp_path / "a"))
    os.symlink("a", str(tmp_path / "b"))
    out, _sha = _bundle(tmp_path, lambda w: w.add_tree(str(tmp_path), "t"))
    members, manifest = _read(out)
    assert manifest[str(tmp_path / "a")]["type"] == "symlink" and manifest[str(tmp_path / "a")]["link_target"] == "b"
    assert not [name for name in members if name.startswith("ev/files")]


def test_symlink_to_shadow_is_never_read(tmp_path):
    collected = tmp_path / "cron.d"
    collected.mkdir()
    os.symlink("/etc/shadow", str(collected / "job"))
    home = tmp_path / "home"
    home.mkdir()
    os.symlink("/etc", str(home / ".ssh"))  # a directory symlink inside a user's home

    def build(writer):
        writer.add_tree(str(collected), "cron")
        writer.add_file(str(home / ".ssh" / "shadow"), "ssh", root=str(home))
    out, _sha = _bundle(tmp_path, build)
    members, manifest = _read(out)
    assert manifest[str(collected / "job")]["link_target"] == "/etc/shadow"
    assert manifest[str(home / ".ssh" / "shadow")]["error"] == "symlink in path not followed"
    shadow = open("/etc/shadow", "rb").read()
    assert all(shadow not in data for data in members.values())


def test_fifo_is_recorded_never_opened(tmp_path):
    os.mkfifo(str(tmp_path / "pipe"))  # opening it for reading without a writer would block
    out, _sha = _bundle(tmp_path, lambda w: w.add_tree(str(tmp_path), "t"))
    _members, manifest = _read(out)
    assert manifest[str(tmp_path / "pipe")]["type"] == "fifo"
    assert manifest[str(tmp_path / "pipe")]["note"] == "special file recorded, never read"


def test_device_is_recorded_never_opened(tmp_path):
    out, _sha = _bundle(tmp_path, lambda w: w.add_file("/dev/zero", "t", root="/dev"))
    assert _read(out)[1]["/dev/zero"]["type"] == "char-device"


def test_vanished_file_is_an_error_not_a_failure(tmp_path):
    gone = _write(str(tmp_path / "gone.log"), b"x")
    os.unlink(gone)
    out, _sha = _bundle(tmp_path, lambda w: w.add_file(gone, "t", root=str(tmp_path)))
    assert _read(out)[1][gone]["error"].startswith("ENOENT")


def test_unreadable_file_after_dropping_privileges():
    base = tempfile.mkdtemp(prefix="evid-unreadable-")
    try:
        os.chmod(base, 0o777)
        secret = _write(os.path.join(base, "secret.log"), b"root only\n")
        os.chmod(secret, 0o600)
        out = os.path.join(base, "b.tar.gz")
        pid = os.fork()
        if pid == 0:  # child: become nobody, then collect
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                writer = eb.BundleWriter(out, "ev", MIB, MIB)
                writer.add_file(secret, "t", root=base)
                writer.close(b"")
                code = 0
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        members, manifest = _read(out)
        assert manifest[secret]["error"].startswith("EACCES")
        assert "ev/files" + secret not in members
    finally:
        shutil.rmtree(base)


def test_file_growing_while_read_keeps_the_size_seen_at_open(tmp_path):
    src = _write(str(tmp_path / "grow.log"), b"a" * (3 * MIB))
    grown = []

    def append(_chunk):
        if not grown:
            _write_append(src, b"b" * MIB)
            grown.append(True)
    out, _sha = _bundle(tmp_path, lambda w: w.add_file(src, "t", root=str(tmp_path), observer=append))
    members, manifest = _read(out)
    assert members["ev/files" + src] == b"a" * (3 * MIB)
    assert manifest[src]["changed_while_read"] is True and manifest[src]["error"] is None


def test_file_shrinking_while_read_is_padded_and_flagged(tmp_path):
    src = _write(str(tmp_path / "shrink.log"), b"a" * (3 * MIB))
    out, _sha = _bundle(tmp_path, lambda w: w.add_file(src, "t", root=str(tmp_path),
                                                       observer=lambda _c: os.truncate(src, MIB)))
    members, manifest = _read(out)
    assert len(members["ev/files" + src]) == 3 * MIB and manifest[src]["changed_while_read"] is True
    assert "shrank" in manifest[src]["error"]


def _write_append(path, data):
    with open(path, "ab") as handle:
        handle.write(data)


def test_non_utf8_name_round_trips(tmp_path):
    raw = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9-\xff.log")
    _write(raw, b"bytes\n")
    out, sha = _bundle(tmp_path, lambda w: w.add_tree(str(tmp_path), "t", match=lambda n: n.endswith(".log")))
    _members, manifest = _read(out)
    (entry,) = [m for m in manifest.values() if "path_b64" in m]
    assert base64.b64decode(entry["path_b64"]) == raw
    with tarfile.open(out, "r:gz", encoding="utf-8", errors="surrogateescape") as tar:
        assert os.fsencode(entry["arcname"][len("ev/files"):]) == raw or tar.getmember(entry["arcname"])
    assert eb.verify_bundle(out, sha)["ok"]


def test_ten_gib_sparse_file_keeps_the_newest_end(tmp_path):
    src = str(tmp_path / "sparse.img")
    with open(src, "wb") as handle:
        handle.truncate(10 << 30)
        handle.seek((10 << 30) - 6)
        handle.write(b"TAIL!\n")
    out, _sha = _bundle(tmp_path, lambda w: w.add_file(src, "t", root=str(tmp_path)), max_file=MIB)
    members, manifest = _read(out)
    data = members["ev/files" + src]
    assert len(data) == MIB and data.endswith(b"TAIL!\n") and data[:-6] == bytes(MIB - 6)
    entry = manifest[src]
    assert (entry["sparse"], entry["truncated"], entry["size"], entry["stored_from_offset"]) == (True, True, 10 << 30, (10 << 30) - MIB)
    assert os.path.getsize(out) < 64 * 1024


def test_sparse_file_with_holes_inside_the_cap_matches_a_plain_read(tmp_path):
    src = str(tmp_path / "holes.bin")
    with open(src, "wb") as handle:
        handle.truncate(8 * MIB)
        for off in (0, 3 * MIB + 17, 8 * MIB - 5):
            handle.seek(off)
            handle.write(b"data!")
    out, _sha = _bundle(tmp_path, lambda w: w.add_file(src, "t", root=str(tmp_path)))
    members, manifest = _read(out)
    assert members["ev/files" + src] == open(src, "rb").read()
    assert manifest[src]["sha256"] == eb.sha256_file(src)


def test_bundle_cap_cuts_later_files(tmp_path):
    a = _write(str(tmp_path / "a"), b"a" * 1000)
    b = _write(str(tmp_path / "b"), b"b" * 1000)
    out, _sha = _bundle(tmp_path, lambda w: (w.add_file(a, "t", root=str(tmp_path)), w.add_file(b, "t", root=str(tmp_path))),
                        max_bundle=1500)
    members, manifest = _read(out)
    assert len(members["ev/files" + a]) == 1000 and members["ev/files" + b] == b"b" * 500
    assert manifest[b]["truncated"] is True


def test_dry_run_writes_nothing_and_estimates(tmp_path):
    src = _write(str(tmp_path / "a.log"), b"x" * 5000)
    writer = eb.BundleWriter(str(tmp_path / "none.tar.gz"), "ev", 4096, MIB, dry_run=True)
    writer.add_file(src, "logs", root=str(tmp_path))
    writer.add_json("s.json", {"k": 1}, "summary")
    assert writer.close(b"") == (None, 0)
    assert os.listdir(str(tmp_path)) == ["a.log"]
    assert writer.estimate["logs"] == {"files": 1, "bytes": 4096}


def test_verify_detects_a_tampered_member_and_a_wrong_sum(tmp_path):
    src = _write(str(tmp_path / "a.log"), b"original\n")
    out, sha = _bundle(tmp_path, lambda w: w.add_file(src, "t", root=str(tmp_path)))
    assert eb.verify_bundle(out, "0" * 64)["problems"][0].startswith("bundle sha256")
    tampered = str(tmp_path / "t.tar.gz")
    with tarfile.open(out, "r:gz") as tin, gzip.open(tampered, "wb") as gz, tarfile.open(fileobj=gz, mode="w|") as tout:
        for member in tin.getmembers():
            data = tin.extractfile(member).read()
            if member.name.endswith("a.log"):
                data = b"forged!!!\n"
                member.size = len(data)
            tout.addfile(member, io.BytesIO(data))
    result = eb.verify_bundle(tampered)
    assert not result["ok"] and "does not match its manifest sha256" in result["problems"][0]


def test_existing_bundle_is_never_overwritten(tmp_path):
    out = _write(str(tmp_path / "b.tar.gz"), b"keep")
    with pytest.raises(OSError):
        eb.BundleWriter(out, "ev", MIB, MIB)
    assert open(out, "rb").read() == b"keep"
