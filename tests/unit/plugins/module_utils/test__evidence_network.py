"""The network recorders decoded from a real journal: lines captured in the qemu VM (Debian 12, real kernel)
after the firewall and connlog roles, with an attacker network namespace bridged by a veth pair that scanned
the host (30 IPv4 and 12 IPv6 ports) and pinged it, then `nobody` connecting out over IPv4 and IPv6 and a
transient unit (`systemd-run --uid=33`, qn-x.service) sending 12 MiB to the attacker on port 4444.
journal-retries.json holds an earlier attempt whose unanswered IPv6 SYN was sent again 7 times.
"""

import io
import json
import os

import pytest
import yaml

from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_network as net
from ansible_collections.quietnode.baseline.plugins.module_utils import _evidence_readiness as readiness

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', '..', 'fixtures', 'network')


def fixture(name, mode='rb'):
    with open(os.path.join(FIXTURES, name), mode) as handle:
        return handle.read()


ROLES = os.path.join(HERE, '..', '..', '..', '..', 'roles')


def decode(lines, names, **options):
    conns, units = io.BytesIO(), io.BytesIO()
    journal = net.NetworkJournal(names, conns, units, **options)
    journal.feed(lines)
    rows = [json.loads(line) for line in conns.getvalue().splitlines()]
    unit_rows = [json.loads(line) for line in units.getvalue().splitlines()]
    return journal, rows, unit_rows


def names():
    out = {}
    for line in fixture('passwd', 'r').splitlines():
        parts = line.split(':')
        out[int(parts[2])] = parts[0]
    return out


def lines(name='journal.json'):
    return fixture(name).splitlines()


def test_connections_name_user_destination_and_port():
    journal, rows, _units = decode(lines(), names())
    assert [(r['uid'], r['user'], r['family'], r['dst'], r['dport'], r['proto']) for r in rows] == [
        (65534, 'nobody', 'ipv4', '10.99.0.2', 4444, 'tcp'),
        (65534, 'nobody', 'ipv6', 'fd00:99::2', 4444, 'tcp'),  # the kernel writes fd00:0099:0000:...
        (33, 'www-data', 'ipv4', '10.99.0.2', 4444, 'tcp'),
    ]
    assert rows[2]['time'].startswith('2026-11-30T05:14:51') and rows[2]['out'] == 'qnv0'
    assert journal.counts['connlog_lines'] == 3 and journal.counts['connlog_per_minute'] == {'2026-11-30T05:14': 3}


def test_unanswered_syn_sent_again_is_one_connection():
    journal, rows, _units = decode(lines('journal-retries.json'), names())
    assert journal.counts['connlog_lines'] == 9
    assert len(rows) == 3 and journal.counts['connlog_retries'] == 6
    assert [r['user'] for r in rows] == ['nobody', 'nobody', 'www-data']


def test_denied_packets_per_source():
    journal, _rows, _units = decode(lines(), names())
    result = journal.denied.result()
    assert result['lines'] == journal.counts['denied_lines'] == sum(result['per_minute'].values()) == 43
    v4, v6 = result['sources']
    assert v4['src'] == '10.99.0.2' and v4['packets'] == 29 and v4['distinct_ports'] == 27
    assert 'tcp/22' not in v4['ports'] and {'tcp/20', 'tcp/3306', 'tcp/8080'} <= set(v4['ports'])
    assert v4['icmp_types'] == {'8': 2} and v4['protocols'] == {'tcp': 27, 'icmp': 2}
    assert v4['destinations'] == ['10.99.0.1'] and v4['interfaces'] == ['qnv0']
    assert v6['src'] == 'fd00:99::2' and v6['distinct_ports'] == 12 and v6['icmp_types'] == {'128': 2}
    assert v4['first'] < v4['last']


def test_denied_sources_are_capped_and_counted(monkeypatch):
    monkeypatch.setattr(net, 'MAX_SOURCES', 1)
    journal, _rows, _units = decode(lines(), names())
    result = journal.denied.result()
    assert len(result['sources']) == 1 and result['sources_not_listed'] == 14


def test_unit_bytes_user_and_start():
    _journal, _rows, units = decode(lines(), names())
    unit = [u for u in units if u['unit'] == 'qn-x.service'][0]
    assert unit['egress_bytes'] == 12595608 and unit['ingress_bytes'] == 5052 and unit['cpu_nsec'] > 10 ** 9
    # the user from the unit's own output line; the start from the kernel audit's SERVICE_START
    assert unit['uid'] == 33 and unit['user'] == 'www-data'
    assert unit['started'] < unit['time'] and unit['started'].startswith('2026-11-30T05:14:49')


def test_unit_without_its_own_lines_has_no_user():
    kept = [line for line in lines() if b'"_SYSTEMD_UNIT":"qn-x.service"' not in line]
    _journal, _rows, units = decode(kept, names())
    unit = [u for u in units if u['unit'] == 'qn-x.service'][0]
    assert unit['uid'] is None and unit['user'] is None and unit['egress_bytes'] == 12595608


def test_noise_is_not_decoded():
    noise = [line for line in lines() if not any(n in line for n in net.NetworkJournal({}, None, None).needles)]
    assert noise
    journal, rows, units = decode(noise, names())
    assert rows == [] and units == [] and journal.denied.lines == 0


def test_ruleset_observer_sees_the_table_and_the_rule():
    text = fixture('nft_ruleset.txt')
    observed = {}
    observer = net.RulesetObserver(observed)
    for start in range(0, len(text), 100):  # chunks that cut the needles
        observer(text[start:start + 100])
    assert observed == {'connlog_table': True, 'denied_rule': True, 'connlog_prefix': 'qn-connlog: '}


def test_ruleset_observer_without_the_recorders():
    text = fixture('nft_ruleset.txt').replace(b'quietnode_connlog', b'other').replace(b'qn-denied', b'other')
    text = text.replace(b'quietnode connection log', b'other')
    observed = {}
    net.RulesetObserver(observed)(text)
    assert observed == {'connlog_table': False, 'denied_rule': False, 'connlog_prefix': None}


def summary(**change):
    journal, _rows, _units = decode(lines(), names())
    counts = dict(journal.counts, connlog_table=True, denied_rule=True,
                  ip_accounting={'default_ip_accounting': True, 'cgroup_v2': True})
    counts.update(change)
    return {'network': counts}


def test_readiness_on():
    obs = summary()
    assert readiness.connection_log(obs)[0] == 'on' and '3 new outbound' in readiness.connection_log(obs)[1]
    assert readiness.denied_log(obs)[0] == 'on' and '43 refused' in readiness.denied_log(obs)[1]
    assert readiness.unit_ip_accounting(obs)[0] == 'on'


def test_readiness_off_says_what_is_lost():
    obs = summary(connlog_table=False, denied_rule=False, connlog_lines=0, denied_lines=0,
                  ip_accounting={'default_ip_accounting': True, 'cgroup_v2': False})
    status, detail = readiness.connection_log(obs)
    assert status == 'off' and 'not recorded' in detail
    assert readiness.denied_log(obs)[0] == 'off'
    status, detail = readiness.unit_ip_accounting(obs)
    assert status == 'off' and 'cgroup v2' in detail
    # lines in the window but no table now: it was on, then removed
    assert 'earlier in the window' in readiness.connection_log(summary(connlog_table=False))[1]


def test_readiness_unknown_ruleset_and_older_collector():
    assert readiness.connection_log(summary(connlog_table=None, connlog_lines=0))[0] == 'missing'
    assert readiness.connection_log(summary(connlog_table=None))[0] == 'on'
    assert readiness.connection_log({}) is None and readiness.unit_ip_accounting({}) is None
    judged = [row['recorder'] for row in readiness.verdicts(summary(), ['journal'])]
    assert {'connection log', 'denied-packet log', 'unit IP accounting'} <= set(judged)


def test_packet_fields_keeps_values_not_flags():
    fields = net.packet_fields('qn-connlog: IN= OUT=eth0 SRC=10.0.2.15 DST=10.99.0.2 LEN=60 DF PROTO=TCP SPT=1 DPT=2 '
                               'SYN URGP=0 UID=0 GID=0', net.CONNLOG_PREFIX)
    assert fields['OUT'] == 'eth0' and fields['IN'] == '' and fields['DPT'] == '2' and 'SYN' not in fields


# ---- the host's own connlog prefix ------------------------------------------------------------------

def test_ruleset_observer_reads_a_changed_prefix_in_a_renamed_table():
    """connlog_log_prefix and connlog_table set by the user: the rule is known by its comment."""
    text = fixture('nft_ruleset.txt').replace(b'"qn-connlog: "', b'"edge out: "').replace(b'quietnode_connlog', b'egress')
    observed = {}
    observer = net.RulesetObserver(observed)
    for start in range(0, len(text), 37):
        observer(text[start:start + 37])
    assert observed['connlog_prefix'] == 'edge out: ' and observed['connlog_table'] is True
    assert net.connlog_prefixes(observed['connlog_prefix']) == ('edge out: ', 'qn-connlog: ')


def test_ruleset_observer_without_the_connlog_rule_leaves_the_default():
    text = fixture('nft_ruleset.txt').replace(b'comment "quietnode connection log"', b'')
    observed = {}
    net.RulesetObserver(observed)(text)
    assert observed['connlog_prefix'] is None and observed['denied_rule'] is True
    assert net.connlog_prefixes(observed['connlog_prefix']) == ('qn-connlog: ',) == net.connlog_prefixes('qn-connlog: ')


def _with_prefix(prefix, keep=None):
    """The real journal with its connlog lines written under another prefix (all of them, or all but `keep`)."""
    out, seen = [], 0
    for line in lines():
        if b'"MESSAGE":"qn-connlog: ' in line:
            seen += 1
            if keep is None or seen > keep:
                line = line.replace(b'"MESSAGE":"qn-connlog: ', b'"MESSAGE":"' + prefix.encode() + b'')
        out.append(line)
    return out


@pytest.mark.parametrize('journal_prefix, loaded, keep, expected', [
    ('qn-connlog: ', None, None, 3),
    ('edge out: ', None, None, 0),            # no ruleset read: only the default is known
    ('edge out: ', 'edge out: ', None, 3),
    ('edge out: ', 'edge out: ', 1, 3),       # the prefix changed in the window: old and new lines
    ('qn-', 'qn-', None, 3),                  # begins the denied prefix, which keeps its own lines
], ids=['default', 'custom-not-read', 'custom-read', 'changed-in-window', 'prefix-of-denied'])
def test_connections_under_the_hosts_prefix(journal_prefix, loaded, keep, expected):
    journal, rows, _units = decode(_with_prefix(journal_prefix, keep), names(),
                                   prefixes=net.connlog_prefixes(loaded))
    assert len(rows) == journal.counts['connlog_lines'] == expected
    if expected:
        assert [(r['user'], r['dst'], r['dport']) for r in rows][-1] == ('www-data', '10.99.0.2', 4444)
        assert rows[0]['out'] == 'qnv0' and rows[0]['uid'] == 65534
    assert journal.counts['denied_lines'] == 43


def _yaml(*path):
    with open(os.path.join(ROLES, *path)) as handle:
        return yaml.safe_load(handle)


def test_collector_defaults_are_the_roles():
    """The collector's fallbacks and the rule comment it looks for are what the roles write."""
    assert _yaml('connlog', 'defaults', 'main.yml')['connlog_log_prefix'] == net.CONNLOG_PREFIX
    assert _yaml('firewall', 'vars', 'main.yml')['__firewall_denied_log_prefix'] == net.DENIED_PREFIX
    with open(os.path.join(ROLES, 'connlog', 'templates', 'connlog.nft.j2')) as handle:
        rule = [line for line in handle if 'log prefix' in line]
    assert len(rule) == 1 and net.CONNLOG_RULE_COMMENT in rule[0]
