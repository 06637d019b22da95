#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sshd_dropin
short_description: Write an sshd drop-in only after proving the whole configuration valid and in effect
version_added: 0.1.0
description:
  - Stages the new drop-in, builds a temporary main configuration that reads exactly the files the live
    one will read (Include globs expanded in sshd's lexical order, the staged file in place of the live one),
    and runs C(sshd -t) and C(sshd -T -C ...) on it. The live files are replaced only when both pass.
  - Compares the effective values with O(expect) and fails naming the file and line that overrides a
    managed setting, because sshd keeps the first value it reads.
  - Fails when a user in O(contexts) would be refused by the effective AllowUsers, DenyUsers, AllowGroups
    or DenyGroups.
  - Adds C(Include <dir>/*.conf) at the top of the main configuration when no Include reads the drop-in.
  - After writing, runs C(sshd -t) on the live configuration and restores the previous files if it fails.
author:
  - quietnode maintainers (@quietnode)
attributes:
  check_mode:
    support: full
    description: Runs every check on staged copies and reports whether the live files would change.
  diff_mode:
    support: full
    description: Shows the drop-in before and after.
options:
  path:
    description: The drop-in to manage, for example C(/etc/ssh/sshd_config.d/00-quietnode.conf).
    type: path
    required: true
  content:
    description: The full text of the drop-in.
    type: str
    required: true
  main_config:
    description: The main sshd configuration file.
    type: path
    default: /etc/ssh/sshd_config
  sshd:
    description: Path of the sshd binary used for C(-t) and C(-T).
    type: path
    default: /usr/sbin/sshd
  expect:
    description: Keywords and the effective value each must have (as C(sshd -T) prints them, lists space-separated).
    type: dict
    default: {}
  login_users:
    description:
      - Users who may log in. Each, and C(root), is evaluated with C(sshd -T -C) in the context of O(contexts[0])
        and in a context that enters each Match block's Address, Host, LocalAddress and LocalPort conditions.
      - The run fails, naming the file and line, when any of them would be offered password or keyboard-interactive
        logins, or when root would be allowed to log in, unless the access rules refuse that user there anyway.
    type: list
    elements: str
    default: []
  login_groups:
    description: Groups whose members are added to O(login_users) (for example the AllowGroups of the role).
    type: list
    elements: str
    default: []
  contexts:
    description:
      - Connections to evaluate with C(sshd -T -C); the first is returned as RV(effective).
      - With O(contexts[].permitted=true) the user must be let in by the effective access rules.
    type: list
    elements: dict
    default: []
    suboptions:
      user:
        description: User name.
        type: str
        required: true
      host:
        description: Client host name.
        type: str
        default: localhost
      addr:
        description: Client address.
        type: str
        default: 127.0.0.1
      laddr:
        description: The server address the client connects to (for C(Match LocalAddress)).
        type: str
        default: 0.0.0.0
      lport:
        description: The server port the client connects to (for C(Match LocalPort)); the role passes the managed port.
        type: int
        default: 22
      groups:
        description: Groups the user will be in; added to the groups the host already knows for the user.
        type: list
        elements: str
        default: []
      permitted:
        description: Fail when the effective access rules refuse this user.
        type: bool
        default: true
"""

EXAMPLES = r"""
- name: Write the sshd drop-in that wins over cloud-init's
  quietnode.baseline.sshd_dropin:
    path: /etc/ssh/sshd_config.d/00-quietnode.conf
    content: |
      PermitRootLogin no
      PasswordAuthentication no
    expect:
      permitrootlogin: "no"
      passwordauthentication: "no"
    contexts:
      - user: alice
        addr: 192.0.2.10
        groups: [sudo]
"""

RETURN = r"""
effective:
  description: Effective settings for the first context, keyword to value (list keywords space-separated).
  returned: always
  type: dict
  sample: {"permitrootlogin": "no", "port": "22"}
include_added:
  description: Whether an Include for the drop-in directory was (or would be) added to the main configuration.
  returned: always
  type: bool
"""

import grp
import os
import pwd
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quietnode.baseline.plugins.module_utils import _sshd_config as sc


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def _host_groups(user):
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return []
    names = [group.gr_name for group in grp.getgrall() if user in group.gr_mem]
    try:
        names.append(grp.getgrgid(entry.pw_gid).gr_name)
    except KeyError:
        pass
    return names


def _spec(context):
    # sshd -T refuses a spec without laddr and lport once any Match tests LocalAddress or LocalPort.
    return "user=%s,host=%s,addr=%s,laddr=%s,lport=%s" % (
        context["user"], context["host"], context["addr"], context.get("laddr") or "0.0.0.0", context.get("lport") or 22)


def _members(groups):
    """Users whose primary or supplementary group is one of ``groups``."""
    names = set()
    for name in groups:
        try:
            group = grp.getgrnam(name)
        except KeyError:
            continue
        names.update(group.gr_mem)
        names.update(entry.pw_name for entry in pwd.getpwall() if entry.pw_gid == group.gr_gid)
    return names


def _entries(test, main_config, live):
    """Every setting and Match line of the test config, named by the live files they come from."""
    # The test config is a copy of the main config: report the main config's name.
    shift = 0 if sc.include_covers(_read(main_config) or "", live) else 1
    entries = []
    for entry in sc.read_order(test, _read, sc.listdir_or_empty, match_lines=True):
        if entry["path"] == test:
            entry = dict(entry, path=main_config, line=entry["line"] - shift)
        if entry["match"] and entry["match"].startswith(test + ":"):
            entry["match"] = "%s:%d" % (main_config, int(entry["match"].rsplit(":", 1)[1]) - shift)
        entries.append(entry)
    return entries


def _login_audit(module, test, entries, base, live):
    """Every user that may log in, in every Match context: no password, keyboard-interactive or root login."""
    users = set(module.params["login_users"]) | _members(module.params["login_groups"]) | {"root"}
    found = {}
    for context in sc.match_contexts(entries, base):
        for user in sorted(users):
            spec = dict(context, user=user)
            rc, out, err = module.run_command([module.params["sshd"], "-T", "-f", test, "-C", _spec(spec)])
            if rc != 0:
                module.fail_json(msg="sshd -T failed for %s: %s" % (_spec(spec), err.strip()))
            effective = sc.parse_effective(out)
            if sc.access_denied(effective, user, _host_groups(user), spec["host"], spec["addr"]):
                continue
            for keyword, got, allows in sc.login_policy_breaches(effective, user):
                found.setdefault((keyword, got, allows), []).append("%s from %s" % (user, spec["addr"]))
    problems = []
    for (keyword, got, allows), logins in sorted(found.items()):
        setter = sc.find_match_setter(entries, keyword, got)
        where = "a compiled-in default"
        if setter:
            where = "%s line %d" % (setter["path"], setter["line"])
            if setter["match"]:
                where += " (inside the Match block at %s)" % setter["match"]
        problems.append("%s is '%s' for %s, so they would be %s. It is set by %s, which %s cannot override. "
                        "Remove it there or set it to no, and run again." % (keyword, got, ", ".join(logins), allows, where, live))
    return problems


def _check_staged(module, workdir, main_text, live):
    """Validate the staged drop-in in a full test config; return (test_path, staged_path)."""
    staged = os.path.join(workdir, "dropin.conf")
    _write(staged, module.params["content"])
    test = os.path.join(workdir, "sshd_config")
    _write(test, sc.build_test_config(main_text, live, staged, sc.listdir_or_empty))
    rc, _out, err = module.run_command([module.params["sshd"], "-t", "-f", test])
    if rc != 0:
        module.fail_json(msg="sshd -t refused the new configuration; the live files are unchanged: %s" % err.strip())
    return test, staged


def _effective_checks(module, test, staged, main_config, live):
    """Run sshd -T per context; fail on overridden settings or refused users."""
    first = None
    entries = None
    problems = []
    for context in module.params["contexts"]:
        rc, out, err = module.run_command([module.params["sshd"], "-T", "-f", test, "-C", _spec(context)])
        if rc != 0:
            module.fail_json(msg="sshd -T failed for %s: %s" % (_spec(context), err.strip()))
        effective = sc.parse_effective(out)
        if first is None:
            first = effective
        for keyword, want, got in sc.mismatches(effective, module.params["expect"]):
            if entries is None:
                entries = _entries(test, main_config, live)
            setter = sc.find_setter(entries, keyword, staged)
            problems.append(sc.describe_override(keyword, want, got, setter, live))
        if context["permitted"]:
            groups = list(context["groups"]) + _host_groups(context["user"])
            reason = sc.access_denied(effective, context["user"], groups, context["host"], context["addr"])
            if reason:
                problems.append("%s would be locked out: %s. %s" % (context["user"], reason, sc.access_fix(reason)))
    if module.params["contexts"] and (module.params["login_users"] or module.params["login_groups"]):
        base = dict(module.params["contexts"][0])
        base.pop("groups", None)
        base.pop("permitted", None)
        problems.extend(_login_audit(module, test, entries or _entries(test, main_config, live), base, live))
    if problems:
        module.fail_json(msg="Nothing was changed. " + " ".join(sorted(set(problems))))
    if first is None:
        return {}
    return dict((key, " ".join(values)) for key, values in first.items())


def _replace_live(module, main_config, main_text, new_main, live, staged):
    """Move the staged files into place; restore the old ones if the live config fails sshd -t."""
    backups = []
    for path in (main_config, live):
        if os.path.exists(path):
            handle, copy = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".qn-backup-")
            os.close(handle)
            shutil.copy2(path, copy)
            backups.append((path, copy))
        else:
            backups.append((path, None))
    try:
        if new_main != main_text:
            handle, tmp = tempfile.mkstemp(dir=os.path.dirname(main_config), prefix=".qn-main-")
            os.close(handle)
            _write(tmp, new_main)
            shutil.copymode(main_config, tmp)
            module.atomic_move(tmp, main_config)
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(live), prefix=".qn-dropin-")
        os.close(handle)
        shutil.copyfile(staged, tmp)
        os.chmod(tmp, 0o644)
        module.atomic_move(tmp, live)
        rc, _out, err = module.run_command([module.params["sshd"], "-t", "-f", main_config])
        if rc != 0:
            raise RuntimeError("sshd -t refused the live configuration after the write: %s" % err.strip())
    except Exception as exc:  # restore whatever was moved, then report
        for path, copy in backups:
            if copy:
                shutil.copy2(copy, path)
            elif os.path.exists(path):
                os.unlink(path)
        module.fail_json(msg="%s; the previous files were restored" % exc)
    finally:
        for _path, copy in backups:
            if copy and os.path.exists(copy):
                os.unlink(copy)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            content=dict(type="str", required=True),
            main_config=dict(type="path", default="/etc/ssh/sshd_config"),
            sshd=dict(type="path", default="/usr/sbin/sshd"),
            expect=dict(type="dict", default={}),
            contexts=dict(type="list", elements="dict", default=[], options=dict(
                user=dict(type="str", required=True),
                host=dict(type="str", default="localhost"),
                addr=dict(type="str", default="127.0.0.1"),
                groups=dict(type="list", elements="str", default=[]),
                laddr=dict(type="str", default="0.0.0.0"),
                lport=dict(type="int", default=22),
                permitted=dict(type="bool", default=True),
            )),
            login_users=dict(type="list", elements="str", default=[]),
            login_groups=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    live = module.params["path"]
    main_config = module.params["main_config"]
    main_text = _read(main_config)
    if main_text is None:
        module.fail_json(msg="%s is missing or unreadable; is openssh-server installed?" % main_config)
    if not os.path.isdir(os.path.dirname(live)):
        module.fail_json(msg="directory %s does not exist; create it before writing %s" % (os.path.dirname(live), live))
    include_added = not sc.include_covers(main_text, live)
    new_main = main_text
    if include_added:
        new_main = "Include %s/*.conf\n%s" % (os.path.dirname(live), main_text)

    workdir = tempfile.mkdtemp(prefix="qn-sshd-", dir=module.tmpdir)
    try:
        test, staged = _check_staged(module, workdir, main_text, live)
        effective = _effective_checks(module, test, staged, main_config, live)
        before = _read(live)
        changed = include_added or before != module.params["content"]
        if changed and not module.check_mode:
            _replace_live(module, main_config, main_text, new_main, live, staged)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    module.exit_json(
        changed=changed,
        effective=effective,
        include_added=include_added,
        diff=dict(before=before or "", after=module.params["content"], before_header=live, after_header=live),
    )


if __name__ == "__main__":
    main()
