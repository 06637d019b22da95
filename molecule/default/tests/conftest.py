"""Fixtures shared by the default scenario's checks."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
import qn_platform  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def platform(host):
    """Package, unit and group names for the host's platform family (molecule/shared/vars)."""
    return qn_platform.names(host)
