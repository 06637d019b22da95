"""Login choice: the order of tries, the fresh-connection ssh command line, and what each answer means."""

import subprocess

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils._login_probe import REMOTE_COMMAND, candidates, explain, probe, remote_command, ssh_argv

CANDIDATE_CASES = [
    # (admin, admin ports, inventory user, inventory port, password, expected [(user, port, method)])
    ("alice", [22], "root", 22, "pw", [("alice", 22, "key"), ("root", 22, "password"), ("root", 22, "key")]),
    ("alice", [2222], "root", 22, "", [("alice", 22, "key"), ("alice", 2222, "key"), ("root", 22, "key")]),
    # NAT: the inventory's forwarded port comes before the managed one.
    ("alice", [22], "root", 2222, "", [("alice", 2222, "key"), ("alice", 22, "key"), ("root", 2222, "key")]),
    ("alice", [22], "alice", 22, "", [("alice", 22, "key")]),
    ("", [22], "root", 22, "pw", [("root", 22, "password"), ("root", 22, "key")]),
]


@pytest.mark.parametrize("admin,ports,user,port,password,expected", CANDIDATE_CASES,
                         ids=["day-one", "moved-port", "nat-forward", "admin-in-inventory", "no-admin"])
def test_candidates_order(admin, ports, user, port, password, expected):
    got = [(c["user"], c["port"], "password" if c["password"] else "key")
           for c in candidates(admin, ports, user, port, password)]
    assert got == expected


def test_every_try_is_a_fresh_connection_and_keeps_the_password_off_the_command_line():
    key = ssh_argv("203.0.113.10", {"user": "alice", "port": 22, "password": ""}, "/k", "-o ProxyJump=b", True, 7)
    assert key[0] == "ssh" and "ControlPath=none" in key and "ControlMaster=no" in key
    assert "BatchMode=yes" in key and "ConnectTimeout=7" in key and "StrictHostKeyChecking=no" not in key
    assert key[key.index("-i") + 1] == "/k" and "ProxyJump=b" in key
    assert key[-2] == "203.0.113.10" and "QN_SUDO=" in key[-1]
    assert key[key.index("-l") + 1] == "alice" and key[key.index("-p") + 1] == "22"
    pw = ssh_argv("2001:db8::10", {"user": "root", "port": 22, "password": "secret"}, None, "", False, 10)
    assert pw[:3] == ["sshpass", "-e", "ssh"] and "secret" not in " ".join(pw)
    assert "PubkeyAuthentication=no" in pw and "StrictHostKeyChecking=no" in pw
    assert pw[-2] == "2001:db8::10"


class Runner:
    """Answers as ssh does: (rc, stdout, stderr) per user@port, recording the command lines."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __call__(self, argv, password, timeout):
        user, port = argv[argv.index("-l") + 1], int(argv[argv.index("-p") + 1])
        self.calls.append((user, port, password))
        return self.answers.get((user, port, bool(password)), (255, "", "ssh: connect to host x port %d: Connection refused" % port))


PROBE_CASES = [
    # day one: the admin does not exist yet, root's password works
    ({("root", 22, True): (0, "QN_SUDO=root\n", "")}, ("root", 22, "password", "root"), 2),
    # after the first run: the admin's key works at once; root is never tried
    ({("alice", 22, False): (0, "QN_CLIENT=198.51.100.7\nQN_SUDO=nopasswd\n", "")}, ("alice", 22, "key", "nopasswd"), 1),
    # port moved: refused on 22, the managed port answers
    ({("alice", 2222, False): (0, "QN_SUDO=password\n", "")}, ("alice", 2222, "key", "password"), 2),
    # a login that runs no shell (ForceCommand, nologin) prints no answer: not a usable login
    ({("alice", 22, False): (0, "", ""), ("root", 22, True): (0, "QN_SUDO=root\n", "")}, ("root", 22, "password", "root"), 2),
]


@pytest.mark.parametrize("answers,expected,tries", PROBE_CASES, ids=["day-one", "re-run", "moved-port", "no-shell"])
def test_probe_stops_at_the_first_login_that_works(answers, expected, tries):
    runner = Runner(answers)
    chosen, attempts = probe("h", candidates("alice", [2222] if expected[1] == 2222 else [22], "root", 22, "pw"),
                             runner=runner)
    assert (chosen["user"], chosen["port"], chosen["method"], chosen["sudo"]) == expected
    assert len(attempts) == tries == len(runner.calls)
    assert all(not a["ok"] and a["error"] for a in attempts[:-1])


def test_probe_reads_the_controller_address_the_host_sees():
    runner = Runner({("alice", 22, False): (0, "QN_CLIENT=2001:db8::7\nQN_SUDO=nopasswd\n", "")})
    chosen, _attempts = probe("h", candidates("alice", [22], "root", 22, ""), runner=runner)
    assert chosen["client"] == "2001:db8::7"
    runner = Runner({("alice", 22, False): (0, "QN_SUDO=nopasswd\n", "")})
    assert probe("h", candidates("alice", [22], "root", 22, ""), runner=runner)[0]["client"] == ""


def test_remote_command_prints_the_client_address_with_a_real_shell():
    out = subprocess.run(["sh", "-c", REMOTE_COMMAND], env={"SSH_CONNECTION": "203.0.113.9 50022 10.0.0.2 22", "PATH": "/usr/bin:/bin"},
                         stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout
    assert out.splitlines()[0] == "QN_CLIENT=203.0.113.9"


def test_probe_reports_every_refusal_when_nothing_works():
    runner = Runner({("root", 22, True): (5, "", "Permission denied, please try again.\n"),
                     ("alice", 22, False): (255, "", "Warning: Permanently added 'h' to known hosts.\nalice@h: Permission denied (publickey).\n")})
    chosen, attempts = probe("h", candidates("alice", [22], "root", 22, "pw"), runner=runner)
    assert chosen is None
    assert [a["error"] for a in attempts] == ["alice@h: Permission denied (publickey).",
                                             "Permission denied, please try again.",
                                             "ssh: connect to host x port 22: Connection refused"]


def _attempt(error):
    return {"user": "alice", "port": 22, "method": "key", "ok": False, "sudo": "", "error": error}


def test_explain_points_at_the_address_when_nothing_answered():
    text = explain("h", [_attempt("ssh: connect to host h port 22: Connection refused"), _attempt("no answer within 10 s")])
    assert "Nothing answered SSH there: check ansible_host and ansible_port" in text
    assert "ansible_password" not in text and text.endswith("Nothing was changed.")


def test_explain_points_at_the_credentials_when_a_login_was_refused():
    text = explain("h", [_attempt("ssh: connect to host h port 2222: Connection refused"),
                         _attempt("alice@h: Permission denied (publickey).")])
    assert "set ansible_user and ansible_password" in text and "Nothing answered" not in text
    assert "alice@h:22 by key: alice@h: Permission denied (publickey)." in text


@pytest.mark.parametrize("error, cause", [
    ("no answer within 15 s", "nothing answers SSH there now"),
    ("alice@h: Permission denied (publickey).", "SSH answers but refuses the login, or sudo fails, with the new settings"),
], ids=["unanswered", "refused"])
def test_explain_after_a_change_never_says_nothing_was_changed(error, cause):
    # The fresh login that proves a firewall reload or new sshd settings: the run did change the host, and the
    # role that changed it says what its dead-man timer does; the day-one advice does not apply.
    text = explain("h", [_attempt(error)], after_change=True)
    assert text == ("connection: the fresh login to h that proves this run's change failed "
                    "(tried alice@h:22 by key: %s): %s." % (error, cause))


def test_remote_command_finds_the_first_python_in_the_list_order_as_ansible_discovery_does(tmp_path):
    # A real shell over a PATH holding python3.11 and python3 (both real executables): the first of the
    # list that `command -v` resolves to a path wins; names it cannot find are passed over.
    for name in ("python3", "python3.11"):
        exe = tmp_path / name
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    env = {"PATH": "%s:/usr/bin:/bin" % tmp_path, "SSH_CONNECTION": "203.0.113.9 1 10.0.0.2 22"}
    run = lambda cmd: subprocess.run(["sh", "-c", cmd], env=env, stdout=subprocess.PIPE, universal_newlines=True, check=False)
    done = run(remote_command(["python3.99", "python3.11", "python3"]))
    assert done.returncode == 0 and "QN_PYTHON=%s/python3.11" % tmp_path in done.stdout.splitlines()
    # Nothing found: no line, and the command still succeeds (a non-zero exit would read as a refused login).
    done = run(remote_command(["python3.98", "python3.99"]))
    assert done.returncode == 0 and "QN_PYTHON=" not in done.stdout
    assert remote_command([]) == REMOTE_COMMAND


def test_probe_returns_the_python_the_login_found():
    runner = Runner({("alice", 22, False): (0, "QN_CLIENT=198.51.100.7\nQN_SUDO=nopasswd\nQN_PYTHON=/usr/bin/python3.11\n", "")})
    chosen, _attempts = probe("h", candidates("alice", [22], "root", 22, ""), runner=runner, pythons=["python3.11"])
    assert chosen["python"] == "/usr/bin/python3.11"
    assert "QN_PYTHON" in ssh_argv("h", {"user": "a", "port": 22, "password": ""}, pythons=["python3"])[-1]
