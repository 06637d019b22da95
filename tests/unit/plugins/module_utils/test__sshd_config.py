"""Unit tests for the sshd configuration helpers: read order, test configs, overrides, access rules."""

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _sshd_config as sc

DROPIN = "/etc/ssh/sshd_config.d/00-quietnode.conf"
STAGED = "/tmp/qn/dropin.conf"


def _fs(files):
    """A reader and a directory lister over a dict of path -> text."""
    def read(path):
        return files.get(path)

    def listdir(directory):
        prefix = directory.rstrip("/") + "/"
        return [path[len(prefix):] for path in files if path.startswith(prefix) and "/" not in path[len(prefix):]]

    return read, listdir


SPLIT_CASES = [
    ("space", "PermitRootLogin no", ("permitrootlogin", "no")),
    ("equals", "PasswordAuthentication=yes", ("passwordauthentication", "yes")),
    ("equals-spaced", "Port = 2222", ("port", "2222")),
    ("tab-and-indent", "\tAllowUsers\talice bob", ("allowusers", "alice bob")),
    ("comment", "# PermitRootLogin yes", None),
    ("blank", "   ", None),
    ("keyword-only", "Match", ("match", "")),
]


@pytest.mark.parametrize("line,expected", [c[1:] for c in SPLIT_CASES], ids=[c[0] for c in SPLIT_CASES])
def test_split_line(line, expected):
    assert sc.split_line(line) == expected


def test_expand_include_sorts_lexically_and_places_staged_file():
    _read, listdir = _fs({
        "/etc/ssh/sshd_config.d/50-cloud-init.conf": "",
        "/etc/ssh/sshd_config.d/10-a.conf": "",
        "/etc/ssh/sshd_config.d/readme.txt": "",
        "/etc/ssh/sshd_config.d/.hidden.conf": "",
    })
    paths = sc.expand_include("/etc/ssh/sshd_config.d/*.conf", listdir, {DROPIN: STAGED})
    assert paths == [STAGED, "/etc/ssh/sshd_config.d/10-a.conf", "/etc/ssh/sshd_config.d/50-cloud-init.conf"]


def test_expand_include_relative_to_etc_ssh():
    _read, listdir = _fs({"/etc/ssh/extra.d/a.conf": ""})
    assert sc.expand_include("extra.d/*.conf", listdir) == ["/etc/ssh/extra.d/a.conf"]
    assert sc.expand_include("other.conf", listdir) == ["/etc/ssh/other.conf"]


INCLUDE_CASES = [
    ("debian-glob", "Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n", True),
    ("equals-form", "Include=/etc/ssh/sshd_config.d/*.conf\n", True),
    ("relative", "Include sshd_config.d/*.conf\n", True),
    ("commented", "#Include /etc/ssh/sshd_config.d/*.conf\n", False),
    ("other-dir", "Include /etc/ssh/other.d/*.conf\n", False),
    ("pattern-excludes-name", "Include /etc/ssh/sshd_config.d/5*.conf\n", False),
    ("absent", "Port 22\n", False),
]


@pytest.mark.parametrize("main,expected", [c[1:] for c in INCLUDE_CASES], ids=[c[0] for c in INCLUDE_CASES])
def test_include_covers(main, expected):
    assert sc.include_covers(main, DROPIN) is expected


def test_build_test_config_replaces_live_dropin_with_staged_copy():
    _read, listdir = _fs({DROPIN: "old", "/etc/ssh/sshd_config.d/50-cloud-init.conf": ""})
    main = "Include /etc/ssh/sshd_config.d/*.conf\nX11Forwarding yes\n"
    text = sc.build_test_config(main, DROPIN, STAGED, listdir)
    assert text.splitlines() == [
        "Include %s /etc/ssh/sshd_config.d/50-cloud-init.conf" % STAGED,
        "X11Forwarding yes",
    ]


def test_build_test_config_reads_dropins_first_when_include_missing():
    _read, listdir = _fs({"/etc/ssh/sshd_config.d/50-cloud-init.conf": ""})
    text = sc.build_test_config("PasswordAuthentication yes\n", DROPIN, STAGED, listdir)
    assert text.splitlines()[0] == "Include %s /etc/ssh/sshd_config.d/50-cloud-init.conf" % STAGED
    assert text.splitlines()[1] == "PasswordAuthentication yes"


def test_build_test_config_drops_include_with_no_match():
    _read, listdir = _fs({})
    text = sc.build_test_config("Include /etc/ssh/sshd_config.d/*.conf\nInclude /etc/ssh/none.d/*.conf\n",
                                DROPIN, STAGED, listdir)
    assert text.splitlines() == ["Include %s" % STAGED]


def test_read_order_follows_includes_and_marks_match_blocks():
    files = {
        "/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n"
                                "Match User backup\n  PasswordAuthentication yes\nMatch all\nX11Forwarding yes\n",
        "/etc/ssh/sshd_config.d/00-aaa.conf": "PasswordAuthentication yes\n",
        DROPIN: "PasswordAuthentication no\n",
    }
    read, listdir = _fs(files)
    entries = sc.read_order("/etc/ssh/sshd_config", read, listdir)
    assert [(e["path"], e["line"], e["keyword"], e["value"], e["match"]) for e in entries] == [
        ("/etc/ssh/sshd_config.d/00-aaa.conf", 1, "passwordauthentication", "yes", None),
        (DROPIN, 1, "passwordauthentication", "no", None),
        ("/etc/ssh/sshd_config", 2, "passwordauthentication", "no", None),
        ("/etc/ssh/sshd_config", 4, "passwordauthentication", "yes", "/etc/ssh/sshd_config:3"),
        ("/etc/ssh/sshd_config", 6, "x11forwarding", "yes", None),
    ]
    setter = sc.find_setter(entries, "PasswordAuthentication", DROPIN)
    assert setter["path"] == "/etc/ssh/sshd_config.d/00-aaa.conf"
    message = sc.describe_override("passwordauthentication", "no", "yes", setter, DROPIN)
    assert "/etc/ssh/sshd_config.d/00-aaa.conf line 1" in message and "reads before" in message


def test_an_alias_is_named_at_its_own_line():
    """ChallengeResponseAuthentication sets what sshd -T prints as kbdinteractiveauthentication."""
    files = {
        "/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\n",
        "/etc/ssh/sshd_config.d/10-cloud.conf": "# vendor\nChallengeResponseAuthentication yes\n",
        DROPIN: "KbdInteractiveAuthentication no\n",
    }
    read, listdir = _fs(files)
    entries = sc.read_order("/etc/ssh/sshd_config", read, listdir)
    setter = sc.find_setter(entries, "kbdinteractiveauthentication", DROPIN)
    assert (setter["path"], setter["line"]) == ("/etc/ssh/sshd_config.d/10-cloud.conf", 2)
    assert sc.find_match_setter(entries, "kbdinteractiveauthentication", "yes")["line"] == 2


def test_read_order_stops_include_loops():
    read, listdir = _fs({"/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config\nPort 22\n"})
    entries = sc.read_order("/etc/ssh/sshd_config", read, listdir)
    assert entries and all(e["keyword"] == "port" for e in entries)


def test_parse_effective_collects_list_keywords():
    effective = sc.parse_effective("port 22\nallowusers alice\nallowusers bob@192.0.2.0/24\nciphers a,b\n")
    assert effective["allowusers"] == ["alice", "bob@192.0.2.0/24"]
    assert sc.effective_value(effective, "AllowUsers") == "alice bob@192.0.2.0/24"


MISMATCH_CASES = [
    ("equal", {"permitrootlogin": ["no"]}, {"permitrootlogin": "no"}, []),
    ("case-insensitive", {"loglevel": ["VERBOSE"]}, {"LogLevel": "verbose"}, []),
    ("list-order-matters", {"ciphers": ["b,a"]}, {"ciphers": "a,b"}, [("ciphers", "a,b", "b,a")]),
    ("missing", {}, {"allowgroups": "sudo"}, [("allowgroups", "sudo", "")]),
    ("differs", {"passwordauthentication": ["yes"]}, {"passwordauthentication": "no"},
     [("passwordauthentication", "no", "yes")]),
]


@pytest.mark.parametrize("effective,expected,found", [c[1:] for c in MISMATCH_CASES], ids=[c[0] for c in MISMATCH_CASES])
def test_mismatches(effective, expected, found):
    assert sc.mismatches(effective, expected) == found


ACCESS_CASES = [
    ("no-rules", {}, "root", [], "192.0.2.1", None),
    ("allowed-user", {"allowusers": ["alice"]}, "alice", [], "192.0.2.1", None),
    ("not-listed", {"allowusers": ["alice"]}, "root", ["root"], "192.0.2.1", "AllowUsers"),
    ("user-at-cidr", {"allowusers": ["alice@192.0.2.0/24"]}, "alice", [], "192.0.2.9", None),
    ("user-at-other-cidr", {"allowusers": ["alice@198.51.100.0/24"]}, "alice", [], "192.0.2.9", "AllowUsers"),
    ("wildcard", {"allowusers": ["adm*"]}, "admin", [], "192.0.2.1", None),
    ("negated", {"allowusers": ["*,!root"]}, "root", [], "192.0.2.1", "AllowUsers"),
    ("deny-user", {"denyusers": ["alice"]}, "alice", [], "192.0.2.1", "DenyUsers"),
    ("group-allowed", {"allowgroups": ["sudo"]}, "alice", ["alice", "sudo"], "192.0.2.1", None),
    ("group-missing", {"allowgroups": ["sudo"]}, "alice", ["alice"], "192.0.2.1", "AllowGroups"),
    ("deny-group", {"denygroups": ["nossh"]}, "alice", ["nossh"], "192.0.2.1", "DenyGroups"),
    ("both-lists", {"allowusers": ["alice"], "allowgroups": ["sudo"]}, "alice", ["alice"], "192.0.2.1", "AllowGroups"),
]


@pytest.mark.parametrize("effective,user,groups,addr,reason", [c[1:] for c in ACCESS_CASES],
                         ids=[c[0] for c in ACCESS_CASES])
def test_access_denied(effective, user, groups, addr, reason):
    result = sc.access_denied(effective, user, groups, "client", addr)
    if reason is None:
        assert result is None
    else:
        assert result is not None and result.startswith(reason)


@pytest.mark.parametrize("effective,user,groups,addr,reason", [c[1:] for c in ACCESS_CASES if c[-1]],
                         ids=[c[0] for c in ACCESS_CASES if c[-1]])
def test_each_refusal_gets_the_fix_for_its_rule(effective, user, groups, addr, reason):
    fix = sc.access_fix(sc.access_denied(effective, user, groups, "client", addr))
    if reason in ("DenyUsers", "DenyGroups"):
        assert fix.startswith("Remove that %s entry" % reason) and "Add the user to" not in fix
    elif reason == "AllowGroups":
        assert "ssh_lockdown_allow_groups" in fix and "Add the user to" not in fix
    else:
        assert fix.startswith("Add the user to ssh_lockdown_admin_users or ssh_lockdown_allow_users")


# A Debian sshd_config tail an operator (or an installer) appended, with the Match blocks that
# turned passwords back on in the review: by group, by address, by local port.
MATCH_TAIL = """Include /etc/ssh/sshd_config.d/*.conf
Subsystem sftp /usr/lib/openssh/sftp-server
Match Group contractors
    PasswordAuthentication yes
Match Address 10.20.0.0/16,!10.20.5.0/24 LocalPort 2222
    KbdInteractiveAuthentication yes
Match Host *.example.net
    PermitRootLogin yes
Match all
"""


def _match_entries():
    read = {"/etc/ssh/sshd_config": MATCH_TAIL, "/etc/ssh/sshd_config.d/00-quietnode.conf": "PasswordAuthentication no\n"}.get
    return sc.read_order("/etc/ssh/sshd_config", read, lambda d: ["00-quietnode.conf"], match_lines=True)


def test_read_order_can_list_match_lines_with_their_criteria():
    matches = [(e["line"], e["value"]) for e in _match_entries() if e["keyword"] == "match"]
    assert matches == [(3, "Group contractors"), (5, "Address 10.20.0.0/16,!10.20.5.0/24 LocalPort 2222"),
                       (7, "Host *.example.net")]


def test_match_contexts_enter_every_address_host_and_port_block():
    base = {"host": "203.0.113.5", "addr": "203.0.113.5"}
    contexts = sc.match_contexts(_match_entries(), base)
    assert contexts == [
        base,
        {"host": "203.0.113.5", "addr": "10.20.0.1", "lport": "2222"},
        {"host": "x.example.net", "addr": "203.0.113.5"},
    ]


SAMPLE_CASES = [("10.0.0.0/8", "10.0.0.1"), ("192.0.2.7", "192.0.2.7"), ("10.*", "10.1.1.1"),
                ("172.16.?.*", "172.16.1.1"), ("2001:db8::/32", "2001:db8::1"), ("!10.0.0.0/8", None), ("lan", None)]


@pytest.mark.parametrize("pattern,address", SAMPLE_CASES, ids=[c[0] for c in SAMPLE_CASES])
def test_sample_address_matches_the_pattern(pattern, address):
    assert sc._sample_address(pattern) == address


BREACH_CASES = [
    ("admin-clean", "alice", "passwordauthentication no\nkbdinteractiveauthentication no\npermitrootlogin yes\n", []),
    ("admin-password", "alice", "passwordauthentication yes\nkbdinteractiveauthentication no\n",
     [("passwordauthentication", "yes", "offered password logins")]),
    ("root-login", "root", "passwordauthentication no\nkbdinteractiveauthentication no\npermitrootlogin prohibit-password\n",
     [("permitrootlogin", "prohibit-password", "allowed to log in as root")]),
    ("old-openssh-alias", "bob", "passwordauthentication no\nchallengeresponseauthentication yes\n",
     [("challengeresponseauthentication", "yes", "offered keyboard-interactive (password) logins")]),
]


@pytest.mark.parametrize("user,effective,expected", [c[1:] for c in BREACH_CASES], ids=[c[0] for c in BREACH_CASES])
def test_login_policy_breaches(user, effective, expected):
    assert sc.login_policy_breaches(sc.parse_effective(effective), user) == expected


def test_find_match_setter_names_the_line_inside_the_match_block():
    setter = sc.find_match_setter(_match_entries(), "PasswordAuthentication", "yes")
    assert (setter["path"], setter["line"], setter["match"]) == ("/etc/ssh/sshd_config", 4, "/etc/ssh/sshd_config:3")
    assert sc.find_match_setter(_match_entries(), "passwordauthentication", "no")["match"] is None
