"""Tests for the controller side of blocklist: normalise once per distinct input, then reuse."""

import functools
import http.server
import os
import threading

import pytest
from unittest import mock

from ansible.errors import AnsibleError

from ansible_collections.quietnode.baseline.plugins.action import blocklist as action
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist as bl

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "blocklist")


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
    named = [("a.list", b"192.0.2.0/24\n192.0.2.7\n", "auto", False)]
    with mock.patch.object(action, "normalise", wraps=bl.normalise) as spy:
        first = _plugin()._normalised_file(named, {})
        second = _plugin()._normalised_file(named, {})
        other = _plugin()._normalised_file(named, {"min_prefix_v4": 12})
    assert first == second != other
    assert spy.call_count == 2
    with open(first) as handle:
        assert [line for line in handle.read().splitlines() if not line.startswith("#")] == ["192.0.2.0/24"]


def test_bad_input_fails_and_caches_nothing(cache):
    with pytest.raises(bl.BlocklistError, match="bad.list:2"):
        _plugin()._normalised_file([("bad.list", b"192.0.2.1\nnot-an-address\n", "auto", False)], {})
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


@pytest.fixture
def feeds():
    """A local HTTP server over the fixture directory; nothing leaves the machine."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=FIXTURES)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_unpinned_url_is_fetched_once_per_run(cache, feeds):
    url = feeds + "/spamhaus-drop.txt"
    with mock.patch.object(action, "open_url", wraps=action.open_url) as spy:
        first = _plugin()._download(url, None)
        second = _plugin()._download(url, None)
    assert first == second and first.startswith(b"; Spamhaus DROP")
    assert spy.call_count == 1


def test_countries_resolve_through_the_templates(cache, feeds):
    args = {"countries": ["XK"], "country_url_v4": feeds + "/country-{CC}-v4.zone"}
    with pytest.raises(ValueError, match="blocklist_countries: 'XK' is not ISO 3166-1 alpha-2"):
        _plugin()._controller_sources(action.with_defaults(args))
    args = action.with_defaults({"countries": ["aq"],
                                 "country_url_v4": feeds + "/country-v4.zone?cc={cc}",
                                 "country_url_v6": feeds + "/country-v6.zone?cc={CC}"})
    controller, on_host = _plugin()._controller_sources(args)
    assert on_host == [] and [s["url"][len(feeds):] for s in controller] == [
        "/country-v4.zone?cc=aq", "/country-v6.zone?cc=AQ"]
    named = _plugin()._read_sources(controller)
    assert [n[0] for n in named] == ["country AQ (IPv4, %s/country-v4.zone?cc=aq)" % feeds,
                                     "country AQ (IPv6, %s/country-v6.zone?cc=AQ)" % feeds]
    with open(_plugin()._normalised_file(named, args)) as handle:
        # The /7 in the zone is accepted for a country (not for a plain list), and both families are read.
        assert [line for line in handle.read().splitlines() if not line.startswith("#")] == ["192.0.2.0/24", "240.0.0.0/7", "2001:db8:c0::/44"]


def test_src_and_url_in_one_item_fail_before_anything_is_read(cache):
    plugin = _plugin()
    plugin._task = mock.Mock(args={"sources": [{"src": "a.list", "url": "https://lists.example.org/a"}]})
    with mock.patch.object(action.ActionBase, "run", return_value={}), \
            mock.patch.object(plugin, "_read_sources") as read:
        result = plugin.run(task_vars={})
    assert result == {"failed": True, "msg": "blocklist_sources[0] has src and url: give exactly one of path, src or url "
                                            "per item (split it into 2 items). Nothing was changed."}
    read.assert_not_called()


def test_url_sources_take_their_format(cache, feeds):
    controller, _on_host = _plugin()._controller_sources(action.with_defaults(
        {"sources": [{"url": feeds + "/p2p.txt", "format": "p2p"}, {"url": feeds + "/dshield-block.txt"}]}))
    named = _plugin()._read_sources(controller)
    assert [(n[2], n[3]) for n in named] == [("p2p", False), ("auto", False)]
    with open(_plugin()._normalised_file(named, {})) as handle:
        text = handle.read().splitlines()
    # One section per source (for its own sets and counter); together they cover the union.
    assert [line for line in text if line.startswith("# source: ")] == ["# source: %s/p2p.txt" % feeds, "# source: %s/dshield-block.txt" % feeds]
    assert bl.normalise([], trusted=[("shipped", text)]).lines(4) == ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.9"]
