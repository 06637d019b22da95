"""The option table is the one place for names and defaults: the role, module and cache key follow it."""

import os

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_options as opts
from ansible_collections.quietnode.baseline.plugins.module_utils import _blocklist_countries as countries

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "blocklist")


def _yaml(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


ROLE_ROWS = [row for row in opts.OPTIONS if row[1]]


@pytest.mark.parametrize("option,var,kind,default", [r[:4] for r in ROLE_ROWS], ids=[r[0] for r in ROLE_ROWS])
def test_role_defaults_and_specs_follow_the_table(option, var, kind, default):
    assert _yaml("defaults", "main.yml")[var] == default
    spec = _yaml("meta", "argument_specs.yml")["argument_specs"]["main"]["options"][var]
    assert (spec["type"], spec["default"]) == (kind, default)
    with open(os.path.join(ROLE, "tasks", "enforce.yml")) as handle:
        assert '    %s: "{{ %s }}"' % (option, var) in handle.read()


def test_role_source_spec_matches_the_module_source_spec():
    spec = _yaml("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]["blocklist_sources"]
    module = opts.sources_spec()
    assert set(spec["options"]) == set(module["options"])
    assert spec["mutually_exclusive"] == module["mutually_exclusive"]
    assert spec["required_one_of"] == module["required_one_of"]
    assert spec["options"]["format"]["choices"] == module["options"]["format"]["choices"]


def test_role_spec_refuses_src_and_url_in_one_item():
    spec = _yaml("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    result = ArgumentSpecValidator({"blocklist_sources": spec["blocklist_sources"]}).validate(
        {"blocklist_sources": [{"src": "a.list", "url": "https://lists.example.org/a"}]})
    assert "mutually exclusive: path|src|url" in " ".join(result.error_messages)


def test_module_spec_has_every_option_with_its_default():
    spec = opts.argument_spec()
    for option, _var, kind, default, choices, _norm in opts.OPTIONS:
        assert (spec[option]["type"], spec[option]["default"]) == (kind, default)
        assert spec[option].get("choices") == (list(choices) if choices else None)


def test_cache_key_changes_with_every_normalising_option():
    base = opts.cache_key_fields({})
    assert [name for name, _value in base] == list(opts.NORMALISE_OPTIONS)
    changed = {"countries": ["NL"], "country_url_v4": "x", "country_url_v6": "y", "min_prefix_v4": 9,
               "min_prefix_v6": 17, "allow_wide": True, "reject_host_bits": True}
    assert set(changed) == set(opts.NORMALISE_OPTIONS)
    for option, value in changed.items():
        assert opts.cache_key_fields({option: value}) != base, option
    assert opts.cache_key_fields({"table": "other", "validate": "full"}) == base


SOURCE_CASES = [
    ("src-and-url", {"src": "a", "url": "https://x/a"},
     "blocklist_sources[1] has src and url: give exactly one of path, src or url per item (split it into 2 items). "
     "Nothing was changed."),
    ("none", {"checksum": "sha256:00"}, "blocklist_sources[1] has none of path, src or url: give exactly one. Nothing was changed."),
    ("unknown-key", {"src": "a", "fromat": "p2p"}, "blocklist_sources[1] has unknown key(s) fromat; known: checksum, format, path, src, url."),
    ("bad-format", {"src": "a", "format": "csv"}, "blocklist_sources[1] has format 'csv'; choose one of auto,"),
    ("good", {"url": "https://x/a", "format": "p2p"}, None),
]


@pytest.mark.parametrize("source,message", [c[1:] for c in SOURCE_CASES], ids=[c[0] for c in SOURCE_CASES])
def test_check_source(source, message):
    found = opts.check_source(1, source)
    assert found == message if message is None else found.startswith(message)


def test_country_sources_follow_templates_in_order_without_repeats():
    got = countries.country_sources(["nl", "BE", "NL"], "http://mirror/{cc}.v4", "http://mirror/v6/{CC}")
    assert [s["url"] for s in got] == ["http://mirror/nl.v4", "http://mirror/v6/NL", "http://mirror/be.v4", "http://mirror/v6/BE"]
    assert countries.country_sources(["NL"], "http://mirror/{cc}", "") == [
        {"url": "http://mirror/nl", "format": "plain", "country": "NL", "family": "v4"}]


def test_country_codes_are_validated_against_iso_3166():
    assert len(countries.ISO3166_ALPHA2) == 249
    with pytest.raises(ValueError, match=r"^blocklist_countries: 'UK', 'XX' are not ISO 3166-1 alpha-2 .* Nothing was changed.$"):
        countries.country_sources(["GB", "UK", "XX"], opts.COUNTRY_URL_V4, opts.COUNTRY_URL_V6)


def test_default_templates_name_ipdeny_zones():
    got = countries.country_sources(["DE"], opts.COUNTRY_URL_V4, opts.COUNTRY_URL_V6)
    assert [s["url"] for s in got] == ["https://www.ipdeny.com/ipblocks/data/aggregated/de-aggregated.zone",
                                       "https://www.ipdeny.com/ipv6/ipaddresses/aggregated/de-aggregated.zone"]


def test_bad_template_names_the_role_variable():
    with pytest.raises(ValueError, match=r"blocklist_country_url_v6 'http://m/\{code\}': use \{cc\} or \{CC\}"):
        countries.country_sources(["DE"], "http://m/{cc}", "http://m/{code}")
