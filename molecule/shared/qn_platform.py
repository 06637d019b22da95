"""Platform names for testinfra checks, read from the same molecule/shared/vars files the playbooks load."""

import os

import yaml

_VARS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vars")
_DEBIAN_FAMILY = ("debian", "ubuntu")


def family(host):
    """Ansible's os_family for the host: Debian or RedHat (CentOS Stream, Rocky, AlmaLinux, RHEL)."""
    return "Debian" if host.system_info.distribution in _DEBIAN_FAMILY else "RedHat"


def names(host):
    with open(os.path.join(_VARS, "%s.yml" % family(host)), encoding="utf-8") as handle:
        return yaml.safe_load(handle)
