"""The fast_linear strategy: Mitogen's linear strategy when Mitogen imports, the plain one (with a warning) when not."""

import importlib
import sys
from unittest import mock

import pytest
from ansible.plugins.strategy.linear import StrategyModule as Linear

NAME = "ansible_collections.quietnode.baseline.plugins.strategy.fast_linear"


@pytest.fixture(autouse=True)
def _fresh_import():
    # Each test imports the plugin anew; none leaves its variant behind for later tests.
    sys.modules.pop(NAME, None)
    yield
    sys.modules.pop(NAME, None)


def _load(block_mitogen):
    blocked = {"ansible_mitogen": None, "ansible_mitogen.loaders": None, "ansible_mitogen.strategy": None}
    with mock.patch.dict(sys.modules, blocked if block_mitogen else {}):
        return importlib.import_module(NAME)


def test_with_mitogen_the_strategy_is_mitogens_linear():
    import ansible_mitogen.strategy  # pinned in requirements.txt, so the test venv has it

    plugin = _load(block_mitogen=False)
    assert issubclass(plugin.StrategyModule, ansible_mitogen.strategy.StrategyMixin)
    assert issubclass(plugin.StrategyModule, Linear)


def test_without_mitogen_it_is_plain_linear_and_says_so():
    plugin = _load(block_mitogen=True)
    assert plugin.ansible_mitogen is None
    assert plugin.StrategyModule.__mro__[1] is Linear
    warnings = []
    with mock.patch.object(Linear, "__init__", lambda self, tqm: None), \
            mock.patch.object(plugin.Display, "warning", lambda self, msg: warnings.append(msg)):
        plugin.StrategyModule(tqm=None)
    assert len(warnings) == 1 and "mitogen package is not installed" in warnings[0]
    assert "make setup" in warnings[0]
