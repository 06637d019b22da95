"""The whole baseline: fail2ban watches sshd from the journal and bans into its own nftables table."""


def test_sshd_and_recidive_jails_running(host):
    status = host.check_output("fail2ban-client status")
    assert "sshd" in status and "recidive" in status


def test_bans_go_to_nftables_not_dbus(host):
    actions = host.check_output("fail2ban-client get sshd actions")
    assert "nftables-multiport" in actions and "firewallcmd" not in actions


def test_sshd_jail_reads_the_journal_aggressively(host):
    # journalmatch only exists for a jail on the systemd backend.
    assert "_COMM=sshd" in host.check_output("fail2ban-client get sshd journalmatch")
    assert "2592000" in host.check_output("fail2ban-client get dbpurgeage")
    assert host.check_output("fail2ban-client get sshd bantime.increment") in ("True", "true")


def test_ban_then_unban_roundtrip_reaches_the_kernel(host):
    address = "192.0.2.123"
    host.run_expect([0, 1], "fail2ban-client set sshd banip %s", address)
    try:
        assert address in host.check_output("nft list set inet f2b-table addr-set-sshd")
    finally:
        host.run("fail2ban-client set sshd unbanip %s", address)
    assert address not in host.check_output("nft list set inet f2b-table addr-set-sshd")
