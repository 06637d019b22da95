"""Raw role variables against argument specs: each case is a value a user really wrote."""

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils._check_vars import check

SPEC = {
    "sysstat_collect_groups": {"type": "list", "elements": "str"},
    "firewall_services": {"type": "list", "elements": "str"},
    "firewall_ports": {"type": "list", "elements": "str"},
    "quietnode_management_allowlist": {"type": "list", "elements": "str"},
    "ssh_lockdown_port": {"type": "int"},
    "ssh_lockdown_connect_user": {"type": "str"},
    "firewall_egress_enabled": {"type": "bool"},
    "ssh_lockdown_admin_users": {"type": "list", "elements": "dict", "options": {
        "name": {"type": "str"}, "keys": {"type": "list", "elements": "str"},
        "key_files": {"type": "list", "elements": "str"}}},
}

CASES = [
    ("string-for-list", {"sysstat_collect_groups": "DISK"}, ["sysstat_collect_groups must be a list, got the string 'DISK'"]),
    ("service-string", {"firewall_services": "http"}, ["firewall_services must be a list, got the string 'http'"]),
    ("admin-string", {"ssh_lockdown_admin_users": "alice"}, ["ssh_lockdown_admin_users must be a list, got the string 'alice'"]),
    ("admin-item-string", {"ssh_lockdown_admin_users": ["alice"]}, ["ssh_lockdown_admin_users[0] must be a mapping"]),
    ("keys-string", {"ssh_lockdown_admin_users": [{"name": "a", "keys": "ssh-ed25519 AAAA"}]},
     ["ssh_lockdown_admin_users[0].keys must be a list, got the string 'ssh-ed25519 AAAA'"]),
    ("bad-ipv4", {"quietnode_management_allowlist": ["300.1.2.3"]},
     ["quietnode_management_allowlist holds '300.1.2.3', which is not an IPv4 or IPv6 address or network"]),
    ("spaced-ipv4", {"quietnode_management_allowlist": [" 198.51.100.7"]},
     ["quietnode_management_allowlist holds ' 198.51.100.7', which is not an IPv4 or IPv6 address or network"]),
    ("bad-port", {"firewall_ports": ["99999/tcp"]}, ["firewall_ports holds '99999/tcp'"]),
    ("spaced-port", {"firewall_ports": ["443/tcp "]}, ["firewall_ports holds '443/tcp '"]),
    ("bad-protocol", {"firewall_ports": ["80/http"]}, ["firewall_ports holds '80/http'"]),
    ("reversed-range", {"firewall_ports": ["2000-1000/udp"]}, ["firewall_ports holds '2000-1000/udp'"]),
    ("port-not-int", {"ssh_lockdown_port": "ssh"}, ["ssh_lockdown_port must be a whole number, got the string 'ssh'"]),
    ("list-for-str", {"ssh_lockdown_connect_user": ["alice"]},
     ["ssh_lockdown_connect_user must be a single value, got a list"]),
    ("bool-word", {"firewall_egress_enabled": "maybe"}, ["firewall_egress_enabled must be true or false"]),
]


@pytest.mark.parametrize("values,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_values_are_named_with_the_fix(values, expected):
    problems = check(SPEC, values)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected):
        assert problem.startswith(start), problem


GOOD = {
    "sysstat_collect_groups": ["DISK", "XDISK"],
    "firewall_services": [],
    "firewall_ports": ["8080/tcp", "60000-61000/udp", "5060/sctp"],
    "quietnode_management_allowlist": ["198.51.100.7", "203.0.113.0/24", "2001:db8::/48", "2001:db8::1"],
    "ssh_lockdown_port": "2222",
    "firewall_egress_enabled": "yes",
    "ssh_lockdown_admin_users": [{"name": "alice", "keys": ["ssh-ed25519 AAAA"], "key_files": []}],
    "unrelated": "anything",
}


def test_good_values_pass():
    assert check(SPEC, GOOD) == []


def test_a_string_list_says_how_to_write_it():
    (problem,) = check(SPEC, {"firewall_services": "http"})
    assert problem.endswith('Write it as firewall_services: [first, second] or one item per line starting with "- ".')


# The firewall role passes the services the host's firewalld defines, read before any file is written.
SERVICES = {"values": ["ssh", "http", "https", "dns", "ntp", "dhcp", "dhcpv6"], "what": "a firewalld service on this host",
            "fix": "Use one of those names."}
KNOWN_CASES = [
    ("all-known", {"firewall_services": ["http", "https"]}, []),
    ("misspelt", {"firewall_services": ["http", "htps"]},
     ["firewall_services holds 'htps', which is not a firewalld service on this host. Use one of those names."]),
    ("unknown", {"firewall_services": ["no-such-service"]},
     ["firewall_services holds 'no-such-service', which is not a firewalld service on this host. Use one of those names."]),
    # A string is reported as a string, not as four unknown one-letter services.
    ("string", {"firewall_services": "http"}, ["firewall_services must be a list, got the string 'http'"]),
]


@pytest.mark.parametrize("values,expected", [c[1:] for c in KNOWN_CASES], ids=[c[0] for c in KNOWN_CASES])
def test_services_are_checked_against_the_hosts_list(values, expected):
    problems = check(SPEC, values, known={"firewall_services": SERVICES})
    assert [p[:len(e)] for p, e in zip(problems, expected)] == expected and len(problems) == len(expected), problems
