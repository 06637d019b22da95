"""The shared dead-man switch suite, on the firewall's instance (/etc/firewalld)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
from deadman_suite import *  # noqa: E402,F401,F403  pylint: disable=wrong-import-position,wildcard-import

testinfra_hosts = ["ansible://firewall-%s" % os.environ.get("MOLECULE_DISTRO", "debian12")]
