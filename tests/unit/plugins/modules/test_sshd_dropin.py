"""Tests for the sshd_dropin module: staged checks, overrides, lockouts, writes and restores.

sshd itself is replaced by a function that answers -t and -T; the Molecule scenario runs the real one.
"""

import json

import pytest
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.quietnode.baseline.plugins.modules import sshd_dropin

CONTENT = "PermitRootLogin no\nPasswordAuthentication no\nAllowUsers alice\n"
GOOD_T = "permitrootlogin no\npasswordauthentication no\nallowusers alice\nport 22\n"


def _tree(tmp_path, main="Include {d}/*.conf\nX11Forwarding yes\n", dropins=None):
    conf_d = tmp_path / "sshd_config.d"
    conf_d.mkdir()
    for name, text in (dropins or {}).items():
        (conf_d / name).write_text(text)
    main_path = tmp_path / "sshd_config"
    main_path.write_text(main.format(d=conf_d))
    return main_path, conf_d / "00-quietnode.conf"


def _run(capsys, main_path, live, check=False, t_rc=(0,), effective=GOOD_T, **extra):
    """Run main(); sshd -t answers from t_rc in turn (first the staged test, then the live check)."""
    answers = list(t_rc)
    calls = []

    def run_command(self, cmd, **kwargs):
        calls.append(cmd)
        if cmd[1] == "-t":
            rc = answers.pop(0) if answers else 0
            return rc, "", "" if rc == 0 else "line 3: Bad configuration option: Nonsense"
        return 0, effective, ""

    args = dict(path=str(live), main_config=str(main_path), content=CONTENT,
                expect={"permitrootlogin": "no", "passwordauthentication": "no"},
                contexts=[{"user": "alice", "addr": "192.0.2.10", "groups": ["sudo"]}],
                _ansible_check_mode=check, _ansible_tmpdir=str(main_path.parent))
    args.update(extra)
    with patch_module_args(args), mock.patch.object(basic.AnsibleModule, "run_command", run_command):
        with pytest.raises(SystemExit):
            sshd_dropin.main()
    return json.loads(capsys.readouterr().out), calls


def test_check_mode_predicts_change_and_writes_nothing(tmp_path, capsys):
    main_path, live = _tree(tmp_path)
    result, calls = _run(capsys, main_path, live, check=True)
    assert result["changed"] and not result["include_added"]
    assert result["effective"]["allowusers"] == "alice"
    assert not live.exists()
    assert [c[1] for c in calls] == ["-t", "-T"]
    assert calls[1][-1] == "user=alice,host=localhost,addr=192.0.2.10,laddr=0.0.0.0,lport=22"


def test_writes_live_file_and_checks_live_config(tmp_path, capsys):
    main_path, live = _tree(tmp_path)
    result, calls = _run(capsys, main_path, live)
    assert result["changed"] and live.read_text() == CONTENT
    assert calls[-1][1:] == ["-t", "-f", str(main_path)]
    again, _calls = _run(capsys, main_path, live)
    assert not again["changed"]


def test_refused_by_sshd_t_leaves_live_file(tmp_path, capsys):
    main_path, live = _tree(tmp_path, dropins={"00-quietnode.conf": "old\n"})
    result, calls = _run(capsys, main_path, live, t_rc=(255,))
    assert result["failed"] and "sshd -t refused the new configuration; the live files are unchanged" in result["msg"]
    assert live.read_text() == "old\n" and len(calls) == 1


def test_names_the_earlier_file_that_overrides(tmp_path, capsys):
    main_path, live = _tree(tmp_path, dropins={"00-aaa.conf": "# cloud\nPasswordAuthentication yes\n"})
    result, _calls = _run(capsys, main_path, live, effective=GOOD_T.replace("passwordauthentication no", "passwordauthentication yes"))
    assert result["failed"] and not live.exists()
    assert "passwordauthentication is 'yes' in effect, not 'no': it is set by %s line 2" % (live.parent / "00-aaa.conf") in result["msg"]


def test_names_the_main_config_when_include_is_missing(tmp_path, capsys):
    main_path, live = _tree(tmp_path, main="Port 22\nPermitRootLogin yes\n")
    effective = GOOD_T.replace("permitrootlogin no", "permitrootlogin yes")
    result, _calls = _run(capsys, main_path, live, check=True, effective=effective,
                          content=CONTENT.replace("PermitRootLogin no\n", ""))
    assert result["failed"] and "it is set by %s line 2" % main_path in result["msg"]


def test_refuses_rules_that_lock_out_the_next_login(tmp_path, capsys):
    main_path, live = _tree(tmp_path)
    result, _calls = _run(capsys, main_path, live, effective=GOOD_T + "allowgroups ops\n")
    assert result["failed"] and "alice would be locked out: AllowGroups (ops)" in result["msg"]
    assert not live.exists()


def test_adds_include_at_the_top_when_missing(tmp_path, capsys):
    main_path, live = _tree(tmp_path, main="PasswordAuthentication yes\n")
    result, _calls = _run(capsys, main_path, live)
    assert result["changed"] and result["include_added"]
    assert main_path.read_text() == "Include %s/*.conf\nPasswordAuthentication yes\n" % live.parent


def test_restores_previous_files_when_live_check_fails(tmp_path, capsys):
    main_path, live = _tree(tmp_path, main="X11Forwarding yes\n", dropins={"00-quietnode.conf": "old\n"})
    before_main = main_path.read_text()
    result, _calls = _run(capsys, main_path, live, t_rc=(0, 255))
    assert result["failed"] and "the previous files were restored" in result["msg"]
    assert live.read_text() == "old\n" and main_path.read_text() == before_main
    assert sorted(p.name for p in live.parent.iterdir()) == ["00-quietnode.conf"]
