"""Feeds refreshed on the host: bounds per case, HTTPS fetch against a local server, last good list kept."""

import functools
import http.server
import gc
import json
import os
import ssl
import subprocess
import threading

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist as bl
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_feeds as feeds
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_nft as nftmod
from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_options import with_defaults

from test__blocklist_nft import FakeNft, TABLE

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "blocklist")

# id, old counts, new counts, reason (None: accepted)
BOUND_CASES = [
    ("first-fetch", None, {"v4": 3, "v6": 0}, None),
    ("same", {"v4": 10, "v6": 0}, {"v4": 10, "v6": 0}, None),
    ("empty", {"v4": 10, "v6": 0}, {"v4": 0, "v6": 0}, "feed is empty"),
    ("empty-first", None, {"v4": 0, "v6": 0}, "feed is empty"),
    ("shrank-half-is-allowed", {"v4": 10, "v6": 0}, {"v4": 5, "v6": 0}, None),
    ("shrank-90", {"v4": 10, "v6": 0}, {"v4": 1, "v6": 0},
     "shrank from 10 to 1 entries, more than blocklist_refresh_max_shrink allows (50%)"),
    ("doubled-is-allowed", {"v4": 5, "v6": 5}, {"v4": 10, "v6": 10}, None),
    ("grew-beyond", {"v4": 5, "v6": 5}, {"v4": 15, "v6": 6},
     "grew from 10 to 21 entries, more than blocklist_refresh_max_growth allows (100%)"),
]


@pytest.mark.parametrize("old,new,reason", [c[1:] for c in BOUND_CASES], ids=[c[0] for c in BOUND_CASES])
def test_check_bounds(old, new, reason):
    assert feeds.check_bounds(old, new, 0.5, 1.0) == reason


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A throwaway CA-less self-signed certificate for 127.0.0.1 and an untrusted second one."""
    root = tmp_path_factory.mktemp("tls")
    for name in ("good", "other"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(root / (name + ".key")),
                        "-out", str(root / (name + ".crt"))], check=True, capture_output=True)
    return root


def _serve(tls, name):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=FIXTURES)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls / (name + ".crt")), str(tls / (name + ".key")))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "https://127.0.0.1:%d" % server.server_address[1]


@pytest.fixture(scope="module")
def https(tls):
    good, good_url = _serve(tls, "good")
    other, other_url = _serve(tls, "other")
    yield good_url, other_url, ssl.create_default_context(cafile=str(tls / "good.crt"))
    for server in (good, other):
        server.shutdown()
        server.server_close()


def test_fetch_over_https(https):
    url, _other, context = https
    assert feeds.fetch(url + "/spamhaus-drop.txt", None, 5, context).startswith(b"; Spamhaus DROP")


FETCH_ERRORS = [
    ("untrusted-certificate", "other", "/spamhaus-drop.txt", None, "TLS error"),
    ("http-404", "good", "/missing.txt", None, "HTTP error: 404"),
    ("checksum", "good", "/spamhaus-drop.txt", "sha256:" + "0" * 64, "the pinned checksum is 000"),
]


@pytest.mark.parametrize("server,path,checksum,message", [c[1:] for c in FETCH_ERRORS], ids=[c[0] for c in FETCH_ERRORS])
def test_fetch_errors(https, server, path, checksum, message):
    good, other, context = https
    with pytest.raises(feeds.FeedError, match=message):
        feeds.fetch((good if server == "good" else other) + path, checksum, 5, context)


def test_fetch_refuses_plain_http():
    with pytest.raises(feeds.FeedError, match="https:// only"):
        feeds.fetch("http://127.0.0.1:1/x")


GOOD = b"192.0.2.0/24\n198.51.100.1\n198.51.100.2\n198.51.100.3\n"
BODIES = {
    "good": GOOD,
    "grown": GOOD + b"203.0.113.1\n",
    "emptied": b"# nothing today\n",
    "shrunk": b"192.0.2.0/24\n",
    "bad-line": GOOD + b"198.51.100.300\n",
}


def _config(tmp_path):
    params = with_defaults({"state_dir": str(tmp_path / "etc"), "cache_dir": str(tmp_path / "cache"),
                            "allowlist": ["192.0.2.1"], "refresh": True})
    params.update(countries=[], feeds=[{"name": "offenders", "url": "https://feeds.example.org/offenders.txt",
                                        "format": "auto", "checksum": None, "wide": False}], sources=[])
    return json.loads(feeds.config_text(params, params["feeds"], []).decode())


def _refresh(config, nft, body):
    def fetcher(url, checksum, timeout):
        if isinstance(body, Exception):
            raise body
        return body
    enforcer = nftmod.Enforcer(nft, "/usr/sbin/nft", TABLE, config["state_dir"], "sample")
    return feeds.refresh(config, enforcer, fetcher, now=lambda: 1796000000)


def _loaded_lines(config):
    with open(os.path.join(config["state_dir"], nftmod.LIST_FILE)) as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


def test_first_refresh_applies_and_a_second_changes_nothing(tmp_path):
    config = _config(tmp_path)
    nft = FakeNft()
    state = _refresh(config, nft, BODIES["good"])
    assert state == {"time": 1796000000, "outcome": "ok", "applied": True, "counts": {"v4": 3, "v6": 0}, "method": "replace",
                     "digest": state["digest"], "sources": {"offenders": {"v4": 4, "v6": 0, "outcome": "updated"}}}
    assert _loaded_lines(config) == ["192.0.2.0", "192.0.2.2-192.0.2.255", "198.51.100.1-198.51.100.3"]
    again = _refresh(config, nft, BODIES["good"])
    assert (again["applied"], again["sources"]["offenders"]["outcome"]) == (False, "unchanged")
    assert feeds.journal_line(again) == ("quietnode-blocklist refresh: outcome=ok applied=no total v4=3 v6=0; "
                                         "offenders unchanged v4=4 v6=0")


KEEP_CASES = [
    ("emptied", BODIES["emptied"], "feed is empty"),
    ("shrunk-90", BODIES["shrunk"], "shrank from 4 to 1 entries"),
    ("bad-line", BODIES["bad-line"], "line 5: not a valid IPv4 address or network: '198.51.100.300'"),
    ("tls", feeds.FeedError("https://feeds.example.org/offenders.txt: TLS error: CERTIFICATE_VERIFY_FAILED"), "TLS error"),
    ("http", feeds.FeedError("https://feeds.example.org/offenders.txt: HTTP error: 503"), "HTTP error: 503"),
]


@pytest.mark.parametrize("body,reason", [c[1:] for c in KEEP_CASES], ids=[c[0] for c in KEEP_CASES])
def test_bad_refresh_keeps_the_last_good_list(tmp_path, body, reason):
    config = _config(tmp_path)
    nft = FakeNft()
    _refresh(config, nft, BODIES["good"])
    before = (nft.loaded, _loaded_lines(config))
    state = _refresh(config, nft, body)
    assert state["outcome"] == "kept-some" and not state["applied"]
    assert state["sources"]["offenders"]["outcome"] == "kept" and reason in state["sources"]["offenders"]["reason"]
    assert (nft.loaded, _loaded_lines(config)) == before
    assert "offenders kept v4=4 v6=0 (" in feeds.journal_line(state)


def test_grown_feed_within_bounds_is_applied(tmp_path):
    config = _config(tmp_path)
    nft = FakeNft()
    _refresh(config, nft, BODIES["good"])
    state = _refresh(config, nft, BODIES["grown"])
    assert (state["outcome"], state["applied"]) == ("ok", True)
    assert "203.0.113.1" in _loaded_lines(config)


def test_a_small_feed_change_is_applied_element_by_element(tmp_path):
    config = _config(tmp_path)
    nft = FakeNft()
    body = GOOD + b"".join(b"10.0.0.%d\n" % (2 * i) for i in range(40))
    _refresh(config, nft, body)
    nft.calls = []
    state = _refresh(config, nft, body + b"203.0.113.1\n")
    assert (state["applied"], state["method"]) == (True, "partial")
    assert [c[0] for c in nft.calls] == ["-t", "-f"]
    assert "203.0.113.1" in nft.elements() and "203.0.113.1" in _loaded_lines(config)
    assert feeds.journal_line(state).startswith("quietnode-blocklist refresh: outcome=ok applied=yes (partial) total v4=44 ")


def test_refresh_parses_only_the_changed_lines_and_reads_old_counts_from_their_record(tmp_path, monkeypatch):
    config = _config(tmp_path)
    nft = FakeNft()
    _refresh(config, nft, BODIES["good"])
    feed = config["feeds"][0]
    path = feeds.feed_path(config["cache_dir"], feed["url"])
    assert feeds.read_counts(path, BODIES["good"]) == {"v4": 4, "v6": 0}
    assert feeds.read_counts(path, BODIES["grown"]) is None  # a record names the bytes it counted
    assert feeds.read_merged(path, feed, config, BODIES["good"]).texts[4] == ["192.0.2.0/24", "198.51.100.1-198.51.100.3"]
    assert feeds.read_merged(path, feed, dict(config, min_prefix_v4=24), BODIES["good"]) is None
    calls = []
    real = feeds.parse_lines
    monkeypatch.setattr(feeds, "parse_lines", lambda lines, *args: calls.append(len(lines)) or real(lines, *args))
    state = _refresh(config, nft, BODIES["grown"])
    assert state["sources"]["offenders"] == {"v4": 5, "v6": 0, "outcome": "updated"} and state["applied"]
    # One line came, none went: only that line was parsed, and the rules match exactly the new list.
    assert calls == [1, 0] and nft.covered() == ["192.0.2.0", "192.0.2.2-192.0.2.255", "198.51.100.1-198.51.100.3", "203.0.113.1"]
    # Without the records (copies written before them) the old copy is parsed for its counts and the new one whole.
    os.unlink(feeds.counts_path(path))
    os.unlink(feeds.merged_path(path))
    calls[:] = []
    state = _refresh(config, nft, BODIES["good"])
    assert state["sources"]["offenders"]["outcome"] == "updated" and calls == [5, 4]
    assert nft.covered() == ["192.0.2.0", "192.0.2.2-192.0.2.255", "198.51.100.1-198.51.100.3"]


@pytest.mark.parametrize("body", [GOOD + b"203.0.113.1\n203.0.113.1\n", b"; comment\n" + GOOD.replace(b"\n", b" ; x\n"),
                                  b"add set 203.0.113.9\n"], ids=["duplicate-line", "comments-changed", "ipset-format"])
def test_patched_feed_equals_a_whole_parse(tmp_path, body):
    config = _config(tmp_path)
    feed = config["feeds"][0]
    old_merged = feeds.merge_feed(feed, config, None, None, GOOD)
    result = feeds.merge_feed(feed, config, GOOD, old_merged, body)
    whole = feeds.parse_feed(feed, body, config)
    assert result.counts() == whole.counts()
    expected = bl.normalise([("feed", bl.decode_lines(body))]).groups[0][1]
    got = bl.normalise([("feed", result)]).groups[0][1]
    assert (got.lines(4), got.lines(6)) == (expected.lines(4), expected.lines(6))


def test_refresh_runs_without_the_cycle_collector_and_restores_it(tmp_path):
    # Its full passes over a big list's millions of objects cost a fifth of a refresh and free nothing.
    config = _config(tmp_path)
    seen = []

    def fetcher(url, checksum, timeout):
        seen.append(gc.isenabled())
        return BODIES["good"]
    enforcer = nftmod.Enforcer(FakeNft(), "/usr/sbin/nft", TABLE, config["state_dir"], "sample")
    assert gc.isenabled()
    assert feeds.refresh(config, enforcer, fetcher)["outcome"] == "ok"
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        feeds.refresh(config, enforcer, fetcher)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_refresh_without_any_good_copy_fails_and_loads_nothing(tmp_path):
    config = _config(tmp_path)
    nft = FakeNft()
    state = _refresh(config, nft, BODIES["emptied"])
    assert state["outcome"] == "failed" and "no good copy of offenders yet" in state["reason"]
    assert nft.loaded is None


def test_main_writes_state_and_one_journal_line(tmp_path, capsys, monkeypatch):
    config = _config(tmp_path)
    os.makedirs(config["cache_dir"])
    path = os.path.join(config["cache_dir"], feeds.CONFIG_FILE)
    with open(path, "w") as handle:
        json.dump(config, handle)
    nft = FakeNft()
    monkeypatch.setattr(feeds, "_run", nft)
    monkeypatch.setattr(feeds, "fetch", lambda url, checksum, timeout: BODIES["good"])
    assert feeds.main([path]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("quietnode-blocklist refresh: outcome=ok applied=yes")
    with open(os.path.join(config["cache_dir"], feeds.STATE_FILE)) as handle:
        assert json.load(handle)["sources"]["offenders"]["outcome"] == "updated"


def _random_feed(rnd, pool):
    # Lines drawn with repeats from a small pool, so counts change between copies; odd line ends and comments too.
    lines = [rnd.choice(pool) for _i in range(rnd.randrange(1, 60))]
    body = "".join(line + rnd.choice(("\n", "\n", "\r\n", "\r")) for line in lines).encode("utf-8")
    return (b"\xef\xbb\xbf" if rnd.random() < 0.2 else b"") + body


POOL = ["192.0.2.%d" % i for i in range(12)] + ["198.51.100.0/30", "198.51.100.8/29", "2001:db8::/48", "2001:db8::1",
                                                "# note", "", "  ", "203.0.113.5 ; spamhaus", "203.0.113.6\x0c203.0.113.7",
                                                "192.0.2.200 # \u00e9t\u00e9", "\u2028203.0.113.9"]


def _fields(merged):
    # Lists or arrays alike: the numbers, texts and repeats a Merged holds.
    return [dict((fam, list(part[fam])) for fam in (4, 6)) for part in (merged.keys, merged.starts, merged.ends, merged.texts)] + [
        merged.repeated]


@pytest.mark.parametrize("seed", range(40))
def test_patched_random_feed_equals_a_whole_parse(tmp_path, seed):
    rnd = __import__("random").Random(seed)
    config = _config(tmp_path)
    feed = config["feeds"][0]
    old = _random_feed(rnd, POOL)
    merged = feeds.merge_feed(feed, config, None, None, old)
    for _step in range(6):
        if rnd.random() < 0.5:
            new = _random_feed(rnd, POOL)
        else:
            # A line both copies hold, once more: its count changes without it showing in either set difference.
            new = old + rnd.choice([line for line in feeds.byte_lines(old) if line] or [b"192.0.2.1"]) + b"\n"
        patched = feeds.merge_feed(feed, config, old, merged, new)
        whole = feeds.merge_feed(feed, config, None, None, new)
        assert _fields(patched) == _fields(whole) and patched.ranges == whole.ranges
        # The record (IPv4 as arrays, texts as one string) reads back as exactly what was written; the next step
        # patches what was read, as a refresh does.
        path = str(tmp_path / ("copy-%d" % _step))
        with open(feeds.merged_path(path), "wb") as handle:
            handle.write(feeds.merged_record(feed, config, new, patched))
        read = feeds.read_merged(path, feed, config, new)
        assert _fields(read) == _fields(patched)
        assert whole.keys == dict((fam, sorted(keys)) for fam, keys in feeds.parse_feed(feed, new, config).keys.items())
        old, merged = new, read
