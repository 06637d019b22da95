"""Fixtures shared by the ssh_lockdown scenario's checks."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
import qn_platform  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def platform(host):
    """Package, unit and group names for the host's platform family (molecule/shared/vars)."""
    return qn_platform.names(host)


@pytest.fixture
def deadman():
    """ssh_lockdown's instance of the shared dead-man switch (molecule/shared/deadman_suite.py)."""
    return {"script": "/var/lib/quietnode/ssh_lockdown/rollback.sh", "unit": "quietnode-ssh-rollback",
            "tag": "quietnode-ssh-rollback", "path": "/etc/ssh/sshd_config.d/00-quietnode.conf"}
