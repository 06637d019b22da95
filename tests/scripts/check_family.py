#!/usr/bin/env python3
"""Fail when a role, playbook or Molecule file names a Debian-only module, unit, package or path outside per-platform data.

Per-platform data is a file named after its platform in a vars/ or tasks/ directory
(roles/*/vars/Debian.yml, vars/Debian_13.yml, molecule/shared/vars/Debian.yml,
molecule/shared/tasks/Debian.yml): there a Debian name is the point. Anywhere else the same
step runs on EL too, where these names do not exist.

Usage: check_family.py [ROOT]   (default: the checkout this script is in)
Findings in files listed in tests/scripts/check_family.allow (PATH: REASON, one per line)
are printed but do not fail the check.
"""

import os
import re
import sys

# (what, pattern): each pattern is matched against a line with its comment removed.
RULES = (
    ("Debian-only module", re.compile(
        r"^\s*(?:-\s+)?(?:ansible\.(?:builtin|legacy)\.)?(apt|apt_key|apt_repository|dpkg_selections|debconf)\s*:")),
    ("Debian-only module", re.compile(
        r"\bansible\.(?:builtin|legacy)\.(apt|apt_key|apt_repository|dpkg_selections|debconf)\b")),
    ("Debian unit name (EL: sshd)", re.compile(r"\b(ssh\.(?:service|socket))\b")),
    ("Debian unit name (EL: sshd)", re.compile(r"^\s*(?:-\s+)?(?:name|service|unit)\s*:\s*[\"']?(ssh)[\"']?\s*$")),
    ("Debian-only path", re.compile(r"(/var/log/auth\.log|/var/log/syslog|/etc/default/[\w.-]*|/etc/apt/[\w./-]*)")),
    ("Debian-only package", re.compile(
        r"(?<![\w.-])(python3-apt|iputils-ping|netcat-openbsd|xz-utils|unattended-upgrades|openssh-client)(?![\w.-])")),
)
SCANNED_DIRS = ("roles", "playbooks", "molecule")
SCANNED_SUFFIXES = (".yml", ".yaml", ".j2")
PLATFORMS = ("Debian", "Ubuntu")
ALLOW_FILE = os.path.join("tests", "scripts", "check_family.allow")


def is_platform_data(relpath):
    """True for vars/<Platform>*.yml and tasks/<Platform>*.yml files."""
    parts = relpath.replace(os.sep, "/").split("/")
    return (len(parts) >= 2 and parts[-2] in ("vars", "tasks")
            and parts[-1].startswith(PLATFORMS) and parts[-1].endswith(SCANNED_SUFFIXES))


def strip_comment(line):
    """The line without a YAML or Jinja comment (a # outside quotes, at the start or after a space)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def scan_text(text):
    """Yield (line number, what, name) for every Debian-only name in the text."""
    for number, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw)
        seen = set()
        for what, pattern in RULES:
            for match in pattern.finditer(line):
                if match.group(1) not in seen:
                    seen.add(match.group(1))
                    yield number, what, match.group(1)


def scanned_files(root):
    for top in SCANNED_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith(SCANNED_SUFFIXES):
                    path = os.path.join(dirpath, name)
                    yield os.path.relpath(path, root).replace(os.sep, "/")


def load_allowlist(root):
    """{path: reason} from the allowlist file; every line needs a reason."""
    allowed = {}
    path = os.path.join(root, ALLOW_FILE)
    if not os.path.exists(path):
        return allowed
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            file_path, sep, reason = line.partition(":")
            if not sep or not reason.strip():
                raise ValueError("%s line %d: write PATH: REASON" % (ALLOW_FILE, number))
            allowed[file_path.strip()] = reason.strip()
    return allowed


def check(root):
    """Return (failures, allowed) as lists of report lines."""
    allowlist = load_allowlist(root)
    failures, allowed = [], []
    for relpath in scanned_files(root):
        if is_platform_data(relpath):
            continue
        with open(os.path.join(root, relpath), encoding="utf-8") as handle:
            findings = list(scan_text(handle.read()))
        for number, what, name in findings:
            line = "%s:%d: %s '%s' outside per-platform data" % (relpath, number, what, name)
            if relpath in allowlist:
                allowed.append("%s (allowed: %s)" % (line, allowlist[relpath]))
            else:
                failures.append(line)
    return failures, allowed


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    failures, allowed = check(root)
    for line in allowed:
        print(line)
    for line in failures:
        print(line)
    if failures:
        print("check_family: %d Debian-only name(s) in shared steps. Move each into vars/<Platform>.yml "
              "(roles; a playbook's step into a role) or molecule/shared/vars/<Platform>.yml and use the variable."
              % len(failures))
        return 1
    print("check_family: no Debian-only names outside per-platform data (%d allowed)" % len(allowed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
