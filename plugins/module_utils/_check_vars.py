# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a role's variables against its meta/argument_specs.yml before the role changes anything.

Ansible's own role validation turns the string "DISK" into the list ["DISK"] when it checks a
list option, but the role then reads the variable itself, character by character. This check
reads the raw values: a string where a list is declared, a dict where a string is, and any
address or network that does not parse is an error naming the variable, the value and the fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

# Variables that hold IPv4/IPv6 addresses or networks (the shared allowlist feeds the roles' own).
ADDRESS_VARIABLES = frozenset((
    'quietnode_management_allowlist',
    'firewall_management_allowlist',
    'firewall_egress_allowlist',
    'fail2ban_management_allowlist',
    'blocklist_allowlist',
))

# Variables that hold firewalld ports: 'PORT/PROTOCOL' or 'FIRST-LAST/PROTOCOL'.
PORT_VARIABLES = frozenset(('firewall_ports',))
PROTOCOLS = ('tcp', 'udp', 'sctp', 'dccp')

_TRUE_FALSE = ('yes', 'no', 'true', 'false', 'on', 'off', '1', '0', 'y', 'n', 't', 'f')


def _kind(value):
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'the string %r' % value
    if isinstance(value, dict):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    return 'a %s' % type(value).__name__


def _example(name, spec):
    if spec.get('type') == 'list' and spec.get('elements') == 'dict':
        return '%s: [{...}, {...}] (a YAML list of mappings)' % name
    if spec.get('type') == 'list':
        return '%s: [first, second] or one item per line starting with "- "' % name
    if spec.get('type') == 'dict':
        return '%s: {key: value}' % name
    return '%s: %s' % (name, _SCALAR_EXAMPLES.get(spec.get('type', 'str'), '<a %s>' % spec.get('type')))


# How a value of each scalar type is written in YAML, for the fix a message gives.
_SCALAR_EXAMPLES = {
    'int': '<a whole number, without quotes>',
    'float': '<a number, without quotes>',
    'bool': 'true or false',
    'str': '"<text>"',
    'path': '<an absolute path>',
}


def type_error(name, spec, value):
    """A message when value does not have the declared type, else None."""
    kind = spec.get('type', 'str')
    if kind == 'list' and not isinstance(value, (list, tuple)):
        return '%s must be a list, got %s' % (name, _kind(value))
    if kind == 'dict' and not isinstance(value, dict):
        return '%s must be a mapping, got %s' % (name, _kind(value))
    if kind in ('str', 'path') and isinstance(value, (list, tuple, dict)):
        return '%s must be a single value, got %s' % (name, _kind(value))
    if kind == 'int' and (isinstance(value, bool) or not (isinstance(value, int) or str(value).strip().lstrip('-').isdigit())):
        return '%s must be a whole number, got %s' % (name, _kind(value))
    if kind == 'bool' and not (isinstance(value, bool) or str(value).strip().lower() in _TRUE_FALSE):
        return '%s must be true or false, got %s' % (name, _kind(value))
    return None


def address_error(name, value):
    """A message when an item of an address list is not an IPv4/IPv6 address or network."""
    try:
        # As written: a role puts the value into firewalld and fail2ban unchanged, spaces included.
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return ('%s holds %r, which is not an IPv4 or IPv6 address or network (for example 198.51.100.7, '
                '203.0.113.0/24 or 2001:db8::/48)' % (name, value))
    return None


def port_error(name, value):
    """A message when an item of a port list is not PORT/PROTOCOL with ports 1-65535."""
    ports, _sep, protocol = str(value).partition('/')
    bounds = ports.split('-')
    ok = protocol in PROTOCOLS and 1 <= len(bounds) <= 2 and all(b.isdigit() and 1 <= int(b) <= 65535 for b in bounds)
    if ok and len(bounds) == 2 and int(bounds[0]) > int(bounds[1]):
        ok = False
    if not ok:
        return ('%s holds %r; each item is PORT/PROTOCOL or FIRST-LAST/PROTOCOL with ports 1-65535 and one of '
                '%s (for example 8080/tcp or 60000-61000/udp)' % (name, value, ', '.join(PROTOCOLS)))
    return None


def known_errors(name, value, known):
    """Messages for the items of a list that are not among the values the host knows.

    known: {'values': [...], 'what': 'a firewalld service on this host', 'fix': 'how to add one'}.
    """
    allowed = set(known.get('values') or [])
    bad = [item for item in value if not isinstance(item, (list, dict)) and str(item) not in allowed]
    return ['%s holds %r, which is not %s. %s' % (name, item, known.get('what', 'a known value'), known.get('fix', ''))
            for item in bad]


def check(options, values, prefix='', known=None):
    """Every problem found in values (name -> raw value) against options (the spec's options).

    known: {name: {'values', 'what', 'fix'}} for list variables whose items must be among values read on the host.
    """
    problems = []
    known = known or {}
    for name, spec in sorted(options.items()):
        if name not in values or values[name] is None:
            continue
        label = prefix + name
        value = values[name]
        error = type_error(label, spec or {}, value)
        if error:
            problems.append(error + '. Write it as ' + _example(label, spec or {}) + '.')
            continue
        spec = spec or {}
        if spec.get('type') == 'list':
            elements = spec.get('elements')
            for index, item in enumerate(value):
                item_label = '%s[%d]' % (label, index)
                if elements == 'dict':
                    if not isinstance(item, dict):
                        problems.append('%s must be a mapping, got %s. Write it as %s.' % (
                            item_label, _kind(item), _example(label, spec)))
                    elif spec.get('options'):
                        problems.extend(check(spec['options'], item, item_label + '.'))
                elif elements in ('str', 'path') and isinstance(item, (list, dict)):
                    problems.append('%s must be a single value, got %s.' % (item_label, _kind(item)))
                elif elements == 'int' and type_error(item_label, {'type': 'int'}, item):
                    problems.append(type_error(item_label, {'type': 'int'}, item) + '.')
            if name in ADDRESS_VARIABLES and not prefix:
                problems.extend(e + '.' for e in (address_error(label, item) for item in value) if e)
            if name in PORT_VARIABLES and not prefix:
                problems.extend(e + '.' for e in (port_error(label, item) for item in value) if e)
            if name in known and not prefix:
                problems.extend(e.rstrip() for e in known_errors(label, value, known[name]))
        elif spec.get('type') == 'dict' and spec.get('options'):
            problems.extend(check(spec['options'], value, label + '.'))
    return problems
