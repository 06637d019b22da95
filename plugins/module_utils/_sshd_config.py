# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for sshd configuration: read order, test configs, effective values, access rules.

sshd keeps the first value it reads for most keywords, so what matters is the order in which
files are read (Include expands globs in lexical order, in place) and the effective result
printed by ``sshd -T``. Nothing here runs a command or touches the file system directly:
callers pass readers, so the logic is testable without sshd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import ipaddress
import os
import posixpath

SSHDIR = "/etc/ssh"
GLOB_CHARS = "*?["


def split_line(line):
    """Return (keyword, rest) of one config line, or None for blanks and comments.

    sshd accepts ``Keyword value`` and ``Keyword=value``.
    """
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    for index, char in enumerate(text):
        if char in " \t=":
            keyword = text[:index]
            rest = text[index:].lstrip(" \t")
            if rest.startswith("="):
                rest = rest[1:].lstrip(" \t")
            return keyword.lower(), rest
    return text.lower(), ""


def _absolute(path):
    return path if path.startswith("/") else posixpath.join(SSHDIR, path)


def expand_include(arg, listdir, replace=None):
    """Paths one Include argument reads, in sshd's order (lexical, as glob(3) sorts).

    ``listdir(directory)`` returns the names in a directory ([] when it is missing).
    ``replace`` maps a live path to the path to read instead (a staged copy); a replaced path
    whose live file does not exist yet is still placed where its name sorts.
    """
    replace = replace or {}
    path = _absolute(arg)
    directory, pattern = posixpath.split(path)
    if not any(char in pattern for char in GLOB_CHARS):
        return [replace.get(path, path)]
    names = set(name for name in listdir(directory) if fnmatch.fnmatchcase(name, pattern) and not name.startswith("."))
    for live in replace:
        live_dir, live_name = posixpath.split(live)
        if live_dir == directory and fnmatch.fnmatchcase(live_name, pattern):
            names.add(live_name)
    return [replace.get(posixpath.join(directory, name), posixpath.join(directory, name)) for name in sorted(names)]


def include_covers(main_text, path):
    """True when an Include line of the main config reads ``path``."""
    directory, name = posixpath.split(path)
    for line in main_text.splitlines():
        parsed = split_line(line)
        if not parsed or parsed[0] != "include":
            continue
        for arg in parsed[1].split():
            arg_dir, pattern = posixpath.split(_absolute(arg))
            if arg_dir == directory and fnmatch.fnmatchcase(name, pattern):
                return True
    return False


def build_test_config(main_text, live_path, staged_path, listdir):
    """A main config that reads exactly what the live one will read once ``live_path`` is replaced.

    Include lines are expanded here, with the staged file in place of the live one, so the
    test config is independent of the live drop-in. When no Include reads ``live_path`` the
    drop-in directory is read first, as the Include added at the top will make sshd do.
    """
    replace = {live_path: staged_path}
    out = []
    if not include_covers(main_text, live_path):
        glob = posixpath.join(posixpath.dirname(live_path), "*.conf")
        out.append("Include " + " ".join(expand_include(glob, listdir, replace)))
    for line in main_text.splitlines():
        parsed = split_line(line)
        if parsed and parsed[0] == "include":
            paths = []
            for arg in parsed[1].split():
                paths.extend(expand_include(arg, listdir, replace))
            if paths:
                out.append("Include " + " ".join(paths))
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def read_order(main_path, read, listdir, replace=None, _depth=0, match_lines=False):
    """Every setting in the order sshd reads it: a list of dicts path, line, keyword, value, match.

    ``read(path)`` returns the file's text or None. ``match`` is the Match line a setting
    sits under, or None for a global setting. With ``match_lines`` the Match lines themselves
    are entries too (keyword ``match``, value the criteria).
    """
    if _depth > 16:
        return []
    text = read(main_path)
    if text is None:
        return []
    entries = []
    match = None
    for number, line in enumerate(text.splitlines(), 1):
        parsed = split_line(line)
        if not parsed:
            continue
        keyword, value = parsed
        if keyword == "match":
            match = None if value.lower() == "all" else "%s:%d" % (main_path, number)
            if match_lines and match:
                entries.append({"path": main_path, "line": number, "keyword": keyword, "value": value, "match": match})
            continue
        if keyword == "include":
            for arg in value.split():
                for path in expand_include(arg, listdir, replace):
                    entries.extend(read_order(path, read, listdir, replace, _depth + 1, match_lines))
            continue
        entries.append({"path": main_path, "line": number, "keyword": keyword, "value": value, "match": match})
    return entries


def parse_effective(text):
    """``sshd -T`` output as {keyword: [value, ...]} (list keywords print one line per entry)."""
    effective = {}
    for line in text.splitlines():
        parsed = split_line(line)
        if parsed:
            effective.setdefault(parsed[0], []).append(parsed[1])
    return effective


def effective_value(effective, keyword):
    return " ".join(effective.get(keyword.lower(), []))


def _normalise(value):
    return " ".join(value.replace(",", " , ").split()).lower()


def mismatches(effective, expected):
    """[(keyword, wanted, got)] for every expected keyword whose effective value differs."""
    found = []
    for keyword in sorted(expected):
        want = str(expected[keyword])
        got = effective_value(effective, keyword)
        if _normalise(want) != _normalise(got):
            found.append((keyword, want, got))
    return found


# Old names sshd still reads for a keyword that ``sshd -T`` prints under its new name.
KEYWORD_ALIASES = {
    "challengeresponseauthentication": "kbdinteractiveauthentication",
    "pubkeyacceptedkeytypes": "pubkeyacceptedalgorithms",
    "hostbasedacceptedkeytypes": "hostbasedacceptedalgorithms",
}


def canonical(keyword):
    """The name ``sshd -T`` prints for a keyword read in a config file (aliases folded)."""
    keyword = keyword.lower()
    return KEYWORD_ALIASES.get(keyword, keyword)


def find_setter(entries, keyword, ours):
    """The first setting of ``keyword`` (or an alias of it) not in ``ours``, the file that overrides us, or None."""
    keyword = canonical(keyword)
    for entry in entries:
        if canonical(entry["keyword"]) == keyword and entry["path"] != ours:
            return entry
    return None


def describe_override(keyword, want, got, setter, live_path):
    """A message that names the file to fix."""
    where = "an unknown source (a Match block or a compiled-in default)"
    if setter:
        where = "%s line %d" % (setter["path"], setter["line"])
        if setter["match"]:
            where += " (inside the Match block at %s)" % setter["match"]
    return (
        "%s is '%s' in effect, not '%s': it is set by %s, which sshd reads before %s and so wins. "
        "Remove or change it there (or set it to the same value) and run again." % (keyword, got, want, where, live_path)
    )


def _host_matches(pattern, host, addr):
    if "/" in pattern:
        try:
            return ipaddress.ip_address(addr) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return fnmatch.fnmatchcase(addr or "", pattern) or fnmatch.fnmatchcase((host or "").lower(), pattern.lower())


def _pattern_list_matches(patterns, value):
    """sshd pattern-list semantics: any positive match and no negated match."""
    matched = False
    for pattern in patterns.split(","):
        if pattern.startswith("!"):
            if fnmatch.fnmatchcase(value, pattern[1:]):
                return False
        elif fnmatch.fnmatchcase(value, pattern):
            matched = True
    return matched


def _user_entry_matches(entry, user, host, addr):
    if "@" in entry:
        user_pattern, host_pattern = entry.split("@", 1)
        return _pattern_list_matches(user_pattern, user) and _host_matches(host_pattern, host, addr)
    return _pattern_list_matches(entry, user)


def access_denied(effective, user, groups, host="", addr=""):
    """Why sshd would refuse ``user`` before authentication, or None when the user is let in.

    Follows sshd's order: DenyUsers, AllowUsers, DenyGroups, AllowGroups.
    """
    groups = list(groups)
    deny_users = effective.get("denyusers", [])
    allow_users = effective.get("allowusers", [])
    deny_groups = effective.get("denygroups", [])
    allow_groups = effective.get("allowgroups", [])
    for entry in deny_users:
        if _user_entry_matches(entry, user, host, addr):
            return "DenyUsers entry '%s' matches %s" % (entry, user)
    if allow_users and not any(_user_entry_matches(entry, user, host, addr) for entry in allow_users):
        return "AllowUsers (%s) does not include %s connecting from %s" % (" ".join(allow_users), user, addr or host)
    for entry in deny_groups:
        if any(_pattern_list_matches(entry, group) for group in groups):
            return "DenyGroups entry '%s' matches a group of %s" % (entry, user)
    if allow_groups and not any(_pattern_list_matches(entry, group) for entry in allow_groups for group in groups):
        return "AllowGroups (%s) contains none of the groups of %s (%s)" % (
            " ".join(allow_groups), user, ", ".join(groups) or "none")
    return None


# The fix for each refusal access_denied reports, by the rule that refuses: adding an admin who is
# already one does not help against a DenyUsers entry or a missing group.
ACCESS_FIXES = {
    "DenyUsers": "Remove that DenyUsers entry from the sshd configuration, or set ssh_lockdown_connect_user to an admin it does not name.",
    "AllowUsers": "Add the user to ssh_lockdown_admin_users or ssh_lockdown_allow_users, or set ssh_lockdown_connect_user to an allowed user.",
    "DenyGroups": "Remove that DenyGroups entry from the sshd configuration, or take the user out of that group.",
    "AllowGroups": ("Give the user one of those groups (groups in its ssh_lockdown_admin_users entry), or list one of "
                    "its groups in ssh_lockdown_allow_groups."),
}


def access_fix(reason):
    """The fix for a refusal from access_denied, chosen by the rule that refused."""
    return ACCESS_FIXES.get((reason or "").split(" ", 1)[0], ACCESS_FIXES["AllowUsers"])


# What no login may get, in any Match context: keyword -> the only acceptable effective value.
# sshd -T prints kbdinteractiveauthentication since OpenSSH 8.7 and challengeresponseauthentication before.
LOGIN_POLICY = (
    ("passwordauthentication", "no", "offered password logins"),
    ("kbdinteractiveauthentication", "no", "offered keyboard-interactive (password) logins"),
    ("challengeresponseauthentication", "no", "offered keyboard-interactive (password) logins"),
)
ROOT_POLICY = (("permitrootlogin", "no", "allowed to log in as root"),)


def _sample_address(pattern):
    """An address a Match Address pattern matches (CIDR, exact or wildcard), or None."""
    try:
        network = ipaddress.ip_network(pattern, strict=False)
        return str(network.network_address + (1 if network.num_addresses > 1 else 0))
    except ValueError:
        pass
    if ":" in pattern or pattern.startswith("!"):
        return None
    parts = ["1" if "*" in part or not part else part.replace("?", "1") for part in pattern.split(".")]
    parts += ["1"] * (4 - len(parts))
    candidate = ".".join(parts[:4])
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return None
    return candidate


def match_contexts(entries, base):
    """Connection contexts that enter each Match block's address, host and port conditions.

    ``base`` is the context of the login this run uses (host, addr, laddr, lport). User and
    Group conditions are covered by checking every user; the others need a context of their own.
    """
    contexts = [dict(base)]
    for entry in entries:
        if entry["keyword"] != "match":
            continue
        words = entry["value"].split()
        context = dict(base)
        for criterion, argument in zip(words[0::2], words[1::2]):
            criterion = criterion.lower()
            first = [p for p in argument.split(",") if not p.startswith("!")][:1]
            if not first:
                continue
            if criterion == "address":
                context["addr"] = _sample_address(first[0]) or context["addr"]
            elif criterion == "host":
                context["host"] = first[0].replace("*", "x").replace("?", "x")
            elif criterion == "localaddress":
                context["laddr"] = _sample_address(first[0]) or context["laddr"]
            elif criterion == "localport" and first[0].isdigit():
                context["lport"] = first[0]
        if context not in contexts:
            contexts.append(context)
    return contexts


def login_policy_breaches(effective, user):
    """[(keyword, got, what it allows)] where this user's effective settings let a password or root in."""
    breaches = []
    for keyword, want, allows in LOGIN_POLICY + (ROOT_POLICY if user == "root" else ()):
        got = effective_value(effective, keyword)
        if got and got.lower() != want:
            breaches.append((keyword, got, allows))
    return breaches


def find_match_setter(entries, keyword, value):
    """The setting that most likely gave ``keyword`` this value: one inside a Match block first."""
    keyword, value = canonical(keyword), value.lower()
    candidates = [e for e in entries if canonical(e["keyword"]) == keyword and e["value"].lower() == value]
    inside = [e for e in candidates if e["match"]]
    return (inside or candidates or [None])[0]


def listdir_or_empty(directory):
    try:
        return os.listdir(directory)
    except OSError:
        return []
