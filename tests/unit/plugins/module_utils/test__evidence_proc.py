"""/proc readers, against this machine's real /proc: a deleted binary in /tmp and a listening socket."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_proc as proc


@pytest.mark.parametrize("exe, flags", [
    ("/usr/bin/sleep", []),
    ("/tmp/x (deleted)", ["deleted", "temp_dir"]),
    ("/dev/shm/.k", ["temp_dir"]),
    ("/var/tmp/a/b", ["temp_dir"]),
    ("/memfd:payload (deleted)", ["deleted", "memfd"]),
    ("/usr/sbin/sshd (deleted)", ["deleted"]),
    ("/tmpfoo/bin", []),
    (None, []),
], ids=["plain", "deleted-tmp", "shm", "var-tmp", "memfd", "upgraded-daemon", "tmp-prefix-only", "kernel-thread"])
def test_exe_flags(exe, flags):
    assert proc.exe_flags(exe) == flags


def test_parse_stat_survives_parens_and_spaces_in_comm():
    comm, rest = proc.parse_stat(b"42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 5 7 0 0 20 0 1 0 999 1000 25")
    assert comm == "a) b (c)" and rest[0] == "S" and rest[1] == "1" and rest[19] == "999"


@pytest.mark.parametrize("line, family, local, remote, state", [
    ("   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1",
     socket.AF_INET, ("127.0.0.1", 22), ("0.0.0.0", 0), "LISTEN"),
    ("   0: 00000000000000000000000001000000:0050 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 "
     "00:00000000 00000000  1000        0 4243 1", socket.AF_INET6, ("::1", 80), ("::ffff:127.0.0.1", 54321), "ESTABLISHED"),
], ids=["tcp4-listen", "tcp6-established"])
def test_parse_net_rows(line, family, local, remote, state):
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (row,) = proc.parse_net((header + line + "\n").encode(), "tcp" if family == socket.AF_INET else "tcp6", family,
                            {4242: [{"pid": 1, "comm": "sshd"}]})
    assert ((row["local"], row["local_port"]), (row["remote"], row["remote_port"]), row["state"]) == (local, remote, state)


def test_listening_socket_is_found_with_its_owner():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    try:
        port = srv.getsockname()[1]
        _all, listening = proc.list_sockets()
        (row,) = [s for s in listening if s["local_port"] == port and s["proto"] == "tcp"]
        assert {"pid": os.getpid(), "comm": row["owners"][0]["comm"]} in row["owners"]
    finally:
        srv.close()


def test_process_running_from_a_deleted_tmp_binary_is_flagged_and_hashed():
    base = tempfile.mkdtemp(prefix="evid-", dir="/tmp")
    exe = os.path.join(base, "x")
    shutil.copy("/bin/sleep", exe)
    want = proc.hashlib.sha256(open(exe, "rb").read()).hexdigest()
    child = subprocess.Popen([exe, "30"])
    try:
        for _attempt in range(100):  # wait until the kernel shows the new image
            if os.readlink("/proc/%d/exe" % child.pid) == exe:
                break
            time.sleep(0.01)
        os.unlink(exe)
        (info,) = [p for p in proc.list_processes() if p["pid"] == child.pid]
        assert info["flags"] == ["deleted", "temp_dir"] and info["exe"] == exe + " (deleted)"
        assert info["exe_sha256"] == want and info["cmdline"] == [exe, "30"] and info["ppid"] == os.getpid()
        assert info["user"] == "root" and info["start"].endswith("Z")
    finally:
        child.kill()
        child.wait()
        shutil.rmtree(base)
