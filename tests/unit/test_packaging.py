"""The collection as Galaxy and AWX users get it: the built tarball, the dependency floors, the EE."""

import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _load(relpath):
    with open(os.path.join(ROOT, relpath), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _galaxy_cli():
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    return beside if os.path.exists(beside) else shutil.which("ansible-galaxy")


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    cli = _galaxy_cli()
    assert cli, "ansible-galaxy is not installed (make setup)"
    out = tmp_path_factory.mktemp("build")
    proc = subprocess.run([cli, "collection", "build", ROOT, "--output-path", str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
    galaxy = _load("galaxy.yml")
    tarball = out / ("%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"]))
    with tarfile.open(str(tarball)) as archive:
        return set(archive.getnames())


@pytest.mark.parametrize("path", [
    "LICENSE", "CHANGELOG.rst", "README.md", "MANIFEST.json", "FILES.json",
    "changelogs/changelog.yaml", "meta/runtime.yml", "meta/execution-environment.yml",
    "playbooks/site.yml", "roles/ssh_lockdown/tasks/main.yml", "roles/firewall/meta/argument_specs.yml",
    "inventory.example/hosts.yml",
])
def test_tarball_carries(members, path):
    assert path in members


@pytest.mark.parametrize("prefix", [
    "tests", "molecule", ".venv", "collections", ".config", ".github", ".ci", ".molecule", "evidence",
    "Makefile", "ansible.cfg", "requirements.txt", "requirements", "changelogs/fragments", ".yamllint",
])
def test_tarball_leaves_out(members, prefix):
    leaked = sorted(m for m in members if m == prefix or m.startswith(prefix + "/"))
    assert leaked == []


def test_license_is_the_gpl3_text():
    with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as handle:
        head = handle.read(200)
    assert "GNU GENERAL PUBLIC LICENSE" in head and "Version 3, 29 June 2007" in head
    assert _load("galaxy.yml")["license"] == ["GPL-3.0-or-later"]


def test_changelog_has_the_release():
    assert "0.1.0" in _load("changelogs/changelog.yaml")["releases"]
    assert _load("galaxy.yml")["version"] in _load("changelogs/changelog.yaml")["releases"]
    with open(os.path.join(ROOT, "CHANGELOG.rst"), encoding="utf-8") as handle:
        assert "v0.1.0" in handle.read()


def _as_dict(collections):
    return {entry["name"]: str(entry["version"]) for entry in collections}


def test_requirements_file_matches_galaxy_dependencies():
    declared = {name: str(spec) for name, spec in _load("galaxy.yml")["dependencies"].items()}
    assert _as_dict(_load("requirements/galaxy.yml")["collections"]) == declared


def test_execution_environment_is_ansible_builder_v3():
    ee = _load("meta/execution-environment.yml")
    assert ee["version"] == 3
    assert ee["images"]["base_image"]["name"]
    deps = ee["dependencies"]
    assert set(deps) <= {"ansible_core", "ansible_runner", "galaxy", "python", "system",
                         "python_interpreter", "exclude"}
    assert deps["ansible_runner"]["package_pip"].startswith("ansible-runner")
    # ansible-builder reads these two when the collection is installed into another EE: lists or file names.
    assert isinstance(deps["python"], list) and isinstance(deps["system"], list)
    for line in deps["system"]:
        assert "[platform:" in line, "bindep line without a platform selector: %s" % line


def test_execution_environment_collections_agree_with_requirements():
    ee = _as_dict(_load("meta/execution-environment.yml")["dependencies"]["galaxy"]["collections"])
    galaxy = _load("galaxy.yml")
    own = "%s.%s" % (galaxy["namespace"], galaxy["name"])
    assert ee.pop(own) == ">=%s" % galaxy["version"]
    assert ee == _as_dict(_load("requirements/galaxy.yml")["collections"])


def test_execution_environment_core_agrees_with_requires_ansible():
    core = _load("meta/execution-environment.yml")["dependencies"]["ansible_core"]["package_pip"]
    assert core == "ansible-core" + _load("meta/runtime.yml")["requires_ansible"]


def test_role_metadata_agrees_with_requires_ansible():
    floor = _load("meta/runtime.yml")["requires_ansible"].lstrip(">=")
    roles = os.path.join(ROOT, "roles")
    for role in sorted(os.listdir(roles)):
        meta = _load(os.path.join("roles", role, "meta", "main.yml"))
        assert floor.startswith(str(meta["galaxy_info"]["min_ansible_version"])), role
