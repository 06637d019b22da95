"""platform_vars: the files each role loads on each supported platform, read from the roles' real vars directories."""

import glob
import os

import pytest
import yaml
from ansible.errors import AnsibleError

from ansible_collections.quietnode.baseline.plugins.lookup.platform_vars import platform_files

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
VARS_DIRS = sorted(d for d in glob.glob(os.path.join(ROOT, "roles", "*", "vars"))
                   if set(os.listdir(d)) - {"main.yml"})

# The distribution facts of each supported platform, as ansible.builtin.setup reports them.
PLATFORMS = {
    "debian12": dict(os_family="Debian", distribution="Debian", distribution_major_version="12", distribution_version="12.8"),
    "debian13": dict(os_family="Debian", distribution="Debian", distribution_major_version="13", distribution_version="13.2"),
    "ubuntu2404": dict(os_family="Debian", distribution="Ubuntu", distribution_major_version="24", distribution_version="24.04"),
    "rhel9": dict(os_family="RedHat", distribution="RedHat", distribution_major_version="9", distribution_version="9.6"),
    "rhel10": dict(os_family="RedHat", distribution="RedHat", distribution_major_version="10", distribution_version="10.0"),
    "rocky9": dict(os_family="RedHat", distribution="Rocky", distribution_major_version="9", distribution_version="9.6"),
    "alma10": dict(os_family="RedHat", distribution="AlmaLinux", distribution_major_version="10", distribution_version="10.0"),
    "centos10": dict(os_family="RedHat", distribution="CentOS", distribution_major_version="10", distribution_version="10"),
}


def _names(paths):
    return [os.path.basename(p) for p in paths]


def _role(vars_dir):
    return vars_dir.split(os.sep)[-2]


def test_fail2ban_loads_the_rhel_file_on_rhel_only():
    fail2ban = os.path.join(ROOT, "roles", "fail2ban", "vars")
    assert _names(platform_files(fail2ban, PLATFORMS["rhel9"])) == ["RedHat.yml", "RedHat_9.yml"]
    assert _names(platform_files(fail2ban, PLATFORMS["rhel10"])) == ["RedHat.yml", "RedHat_10.yml"]
    # os_family is RedHat on Rocky 9 too, but RedHat_9.yml installs EPEL from a URL and enables RHEL's CRB
    assert _names(platform_files(fail2ban, PLATFORMS["rocky9"])) == ["RedHat.yml"]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@pytest.mark.parametrize("vars_dir", VARS_DIRS, ids=_role)
def test_every_role_loads_its_family_first_and_no_file_twice(vars_dir, platform):
    facts = PLATFORMS[platform]
    names = _names(platform_files(vars_dir, facts))
    assert len(names) == len(set(names))
    if os.path.isfile(os.path.join(vars_dir, facts["os_family"] + ".yml")):
        assert names[0] == facts["os_family"] + ".yml"


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@pytest.mark.parametrize("vars_dir", VARS_DIRS, ids=_role)
def test_every_platform_gets_every_platform_key(vars_dir, platform):
    """A key one platform's file sets must come from main.yml or the files loaded on every other platform."""
    def keys(path):
        with open(path) as handle:
            return set(yaml.safe_load(handle) or {})

    platform_keys = set()
    for path in glob.glob(os.path.join(vars_dir, "*.yml")):
        if os.path.basename(path) != "main.yml":
            platform_keys |= keys(path)
    loaded = keys(os.path.join(vars_dir, "main.yml")) if os.path.isfile(os.path.join(vars_dir, "main.yml")) else set()
    for path in platform_files(vars_dir, PLATFORMS[platform]):
        loaded |= keys(path)
    if os.path.isfile(os.path.join(vars_dir, PLATFORMS[platform]["os_family"] + ".yml")):
        assert platform_keys <= loaded, sorted(platform_keys - loaded)


def test_a_family_without_data_is_refused_when_required():
    suse = dict(os_family="Suse", distribution="openSUSE Leap", distribution_major_version="15",
                distribution_version="15.6")
    atop = os.path.join(ROOT, "roles", "atop", "vars")
    assert platform_files(atop, suse) == []
    with pytest.raises(AnsibleError) as error:
        platform_files(atop, suse, required=True)
    message = str(error.value)
    assert "quietnode.baseline.atop has no platform data for openSUSE Leap 15.6 (os_family Suse)" in message
    assert "the Debian and RedHat families" in message and message.endswith("Nothing was changed.")


def test_missing_facts_are_named():
    with pytest.raises(AnsibleError, match="distribution_major_version, distribution_version"):
        platform_files(os.path.join(ROOT, "roles", "atop", "vars"), dict(os_family="Debian", distribution="Debian"))
