"""The kernel records every process, so a command we run shows up in lastcomm."""
import random
import time


def _pacct(host):
    return "/var/log/account/pacct" if host.system_info.distribution in ("debian", "ubuntu") else "/var/account/pacct"


def _service(host):
    return "acct" if host.system_info.distribution in ("debian", "ubuntu") else "psacct"


def test_accounting_service_enabled(host):
    service = host.service(_service(host))
    assert service.is_enabled
    assert service.is_running


def test_lastcomm_shows_a_command_we_ran(host):
    # A unique name (at most 15 characters, the kernel's comm length) that nothing else runs.
    name = "qnprobe%06d" % random.randrange(10 ** 6)
    # /var/tmp, not /tmp: the container's /tmp is a noexec tmpfs.
    ran = host.run("cp /bin/true /var/tmp/{0} && /var/tmp/{0}".format(name))
    host.run("rm -f /var/tmp/%s" % name)
    assert ran.rc == 0, ran.stderr
    deadline = time.time() + 10
    while True:
        out = host.run("lastcomm --file %s --command %s", _pacct(host), name).stdout
        if name in out:
            break
        assert time.time() < deadline, "no accounting record for %s in %s" % (name, _pacct(host))
        time.sleep(1)
    assert "root" in out.split(name, 1)[1].splitlines()[0]


def test_rotation_keeps_35_days(host):
    if host.system_info.distribution in ("debian", "ubuntu"):
        # /etc/cron.daily/acct sources this file and runs savelog -c "$ACCT_LOGGING".
        assert host.check_output("sh -c '. /etc/default/acct; echo $ACCT_LOGGING'") == "35"
    else:
        result = host.run("logrotate -d /etc/logrotate.d/psacct")
        out = result.stdout + result.stderr
        assert "rotateCount is 35" in out or "rotate count is 35" in out.lower()
