"""The whole baseline: firewalld runs on nftables with only SSH (and what was listed) open."""

import re


def test_firewalld_running_on_nftables(host):
    assert host.check_output("firewall-cmd --state") == "running"
    assert "chain filter_IN_" in host.check_output("nft list table inet firewalld")
    # firewalld's own LogDenied has no rate limit: refused packets are logged by the rule below instead
    assert host.check_output("firewall-cmd --get-log-denied") == "off"


def test_refused_packets_logged_rate_limited_after_the_zone_allows(host):
    zone = host.check_output("firewall-cmd --get-default-zone")
    rules = host.check_output("firewall-cmd --zone=%s --list-rich-rules", zone)
    assert 'priority="32767"' in rules and 'log prefix="qn-denied: " level="info" limit value="10/s"' in rules
    # firewalld puts positive priorities in the zone's _post chain, after _allow: only refused packets reach it
    post = host.check_output("nft list chain inet firewalld filter_IN_%s_post", zone)
    # nftables 1.1 (Debian 13) also prints the default burst
    assert re.search(r'limit rate 10/second (burst 5 packets )?log prefix "qn-denied: " level info', post), post
    chain = host.check_output("nft list chain inet firewalld filter_IN_%s", zone)
    assert chain.index("jump filter_IN_%s_allow" % zone) < chain.index("jump filter_IN_%s_post" % zone) < chain.index("reject")


def test_default_zone_opens_ssh_and_no_stock_services(host):
    zone = host.check_output("firewall-cmd --get-default-zone")
    services = host.check_output("firewall-cmd --zone=%s --list-services", zone).split()
    # dhcpv6-client stays by default (firewall_dhcpv6_client); cockpit, a stock EL service, does not.
    assert "cockpit" not in services and "dhcpv6-client" in services
    port = host.check_output("sshd -T | awk '$1 == \"port\" {print $2}'").splitlines()[0]
    assert "%s/tcp" % port in host.check_output("firewall-cmd --zone=%s --list-ports", zone).split()


def test_only_listed_icmp_accepted(host):
    zone = host.check_output("firewall-cmd --get-default-zone")
    assert host.check_output("firewall-cmd --zone=%s --query-icmp-block-inversion", zone) == "yes"
    accepted = host.check_output("firewall-cmd --zone=%s --list-icmp-blocks", zone).split()
    assert "echo-request" not in accepted and "timestamp-request" not in accepted and "redirect" not in accepted
    assert "destination-unreachable" in accepted and "packet-too-big" in accepted


def test_tcp_listeners_other_than_ssh_are_not_reachable(host):
    # A listener on the host that is not SSH is refused by the zone's final reject.
    out = host.check_output("nft list chain inet firewalld filter_IN_%s",
                            host.check_output("firewall-cmd --get-default-zone"))
    assert re.search(r"reject with icmpx admin-prohibited", out), out
