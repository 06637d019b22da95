"""Shared helpers: hosts by role, fixed addresses, bounded traffic from the client containers."""

import os

import pytest
import testinfra

DISTRO = os.environ.get("MOLECULE_DISTRO", "debian12")
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]

TARGET = {4: "10.224.12.10", 6: "fd00:224:12::10"}
INTERNET = {4: "10.224.12.20", 6: "fd00:224:12::20"}
ADMIN = {4: "10.224.12.30", 6: "fd00:224:12::30"}


def node(name):
    return testinfra.get_host("ansible://%s-%s" % (name, DISTRO), ansible_inventory=INVENTORY)


@pytest.fixture(scope="session")
def internet():
    return node("firewall-internet")


@pytest.fixture(scope="session")
def admin():
    return node("firewall-admin")


def banner(client, family, port=22, timeout=4):
    """First bytes the target sends on a TCP port, or '' when nothing answers within the timeout."""
    cmd = client.run(
        "timeout %s nc -%s -w %s %s %s </dev/null | head -c 7", str(timeout + 1), str(family), str(timeout), TARGET[family], str(port)
    )
    return cmd.stdout.strip()


def http_status(client, family, port, timeout=4):
    """Status line of an HTTP request to the target, or '' when the connection is refused or dropped."""
    cmd = client.run(
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout %s nc -%s -w %s %s %s | head -n 1",
        str(timeout + 1), str(family), str(timeout), TARGET[family], str(port),
    )
    return cmd.stdout.strip()


@pytest.fixture
def deadman():
    """The firewall's instance of the shared dead-man switch (molecule/shared/deadman_suite.py)."""
    return {"script": "/usr/local/sbin/quietnode-firewall-rollback", "unit": "quietnode-firewall-rollback",
            "tag": "quietnode-firewall", "path": "/etc/firewalld/zones/public.xml"}
