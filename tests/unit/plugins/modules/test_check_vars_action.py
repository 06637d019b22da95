"""Controller side of check_vars: the argument specs it reads."""

import glob
import os

import pytest
import yaml

from ansible_collections.quietnode.baseline.plugins.action import check_vars

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SPECS = sorted(glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))


def test_every_role_has_a_spec_to_read():
    assert len(SPECS) >= 13


@pytest.mark.parametrize("path", SPECS, ids=[p.split(os.sep)[-3] for p in SPECS])
def test_the_fast_loader_reads_each_spec_as_the_safe_loader_does(path):
    with open(path) as handle:
        text = handle.read()
    assert yaml.load(text, Loader=check_vars._LOADER) == yaml.safe_load(text)
