"""The thin evidence_bundle module: arguments, check mode, a real small collection and verify mode."""

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.quietnode.baseline.plugins.modules import evidence_bundle


def _run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            evidence_bundle.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_estimates_and_writes_nothing(tmp_path, capsys):
    dest = str(tmp_path / "out")
    result = _run({"dest": dest, "include": ["accounts", "cron"], "_ansible_check_mode": True}, capsys)
    assert result["changed"] is False and "bundle" not in result
    assert result["groups"]["accounts"]["files"] >= 2 and result["commands"] == []
    assert not os.path.exists(dest)


def test_collects_then_verifies(tmp_path, capsys):
    result = _run({"dest": str(tmp_path), "include": ["accounts", "system", "live"], "exclude": ["live"]}, capsys)
    assert result["changed"] and result["stamp"] in result["bundle"]
    assert open(result["checksum_file"]).read().split()[0] == result["sha256"]
    assert oct(os.stat(result["bundle"]).st_mode & 0o777) == "0o600"
    assert "live" not in result["groups"] and result["errors"] == 0
    verified = _run({"verify": result["bundle"], "sha256": result["sha256"]}, capsys)
    assert verified["changed"] is False and verified["verified"]["ok"]
    failed = _run({"verify": result["bundle"], "sha256": "0" * 64}, capsys)
    assert failed["failed"] and "failed verification" in failed["msg"]


@pytest.mark.parametrize("args, message", [
    ({"since": "last tuesday"}, "since/until: cannot read"),
    ({"since": "2026-11-22T00:00:00Z", "until": "2026-11-21T00:00:00Z"}, "must be before"),
    ({"command_timeout": 0}, "command_timeout must be a positive number"),
    ({"sha256": "ab"}, "missing parameter(s) required by 'sha256': verify"),
    ({"include": ["everything"]}, "value of include must be one or more of"),
], ids=["bad-since", "reversed-window", "zero-timeout", "sha-without-verify", "unknown-group"])
def test_bad_arguments_fail_with_a_hint(args, message, tmp_path, capsys):
    result = _run(dict(args, dest=str(tmp_path)), capsys)
    assert result["failed"] and message in result["msg"]
    assert os.listdir(str(tmp_path)) == []
