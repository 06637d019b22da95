"""Tests for the controller side of blocklist: normalise once per distinct input, then reuse."""

import pytest
from unittest import mock

from ansible.errors import AnsibleError

from ansible_collections.quietnode.baseline.plugins.action import blocklist as action
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist as bl


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(action, "_cache_dir", lambda: str(tmp_path))
    return tmp_path


def _plugin():
    return action.ActionModule.__new__(action.ActionModule)


def test_locked_build_runs_once(cache):
    calls = []

    def build():
        calls.append(1)
        return b"data"
    path = str(cache / "thing")
    assert action._locked_build(path, build) == action._locked_build(path, build) == path
    assert calls == [1]


def test_same_input_is_normalised_once_and_options_change_the_key(cache):
    named = [("a.list", b"192.0.2.0/24\n192.0.2.7\n")]
    with mock.patch.object(action, "normalise", wraps=bl.normalise) as spy:
        first = _plugin()._normalised_file(named, {})
        second = _plugin()._normalised_file(named, {})
        other = _plugin()._normalised_file(named, {"min_prefix_v4": 12})
    assert first == second != other
    assert spy.call_count == 2
    with open(first) as handle:
        assert handle.read().splitlines()[1:] == ["192.0.2.0/24"]


def test_bad_input_fails_and_caches_nothing(cache):
    with pytest.raises(bl.BlocklistError, match="bad.list:2"):
        _plugin()._normalised_file([("bad.list", b"192.0.2.1\nnot-an-address\n")], {})
    assert not [p for p in cache.iterdir() if p.name.endswith(".list")]


def test_download_needs_a_pinned_sha256(cache):
    with pytest.raises(AnsibleError, match="sha256:<64 hex digits>"):
        _plugin()._download("https://lists.example.org/x.txt", "md5:abc")


def test_download_rejects_a_checksum_mismatch(cache):
    response = mock.Mock()
    response.read.return_value = b"192.0.2.1\n"
    with mock.patch.object(action, "open_url", return_value=response):
        with pytest.raises(AnsibleError, match="pinned checksum"):
            _plugin()._download("https://lists.example.org/x.txt", "sha256:" + "0" * 64)
