# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Countries as blocklist sources: ISO 3166-1 alpha-2 codes resolved through per-family URL templates.

Standard library only: this file runs on the controller and on the target.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.quietnode.baseline.plugins.module_utils._blocklist_options import role_var

# The 249 officially assigned ISO 3166-1 alpha-2 codes, one initial letter per line.
ISO3166_ALPHA2 = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW
""".split())


def country_sources(countries, url_v4, url_v6):
    """One url source per country and family, in the order given; a family whose template is empty is skipped.

    Templates take {cc} (lower case, as ipdeny.com names its zones) or {CC} (upper case).
    Raises ValueError naming the role variable when a code is not an assigned ISO 3166-1 alpha-2 code.
    """
    bad = [code for code in countries if not isinstance(code, str) or code.upper() not in ISO3166_ALPHA2]
    if bad:
        raise ValueError("%s: %s %s not ISO 3166-1 alpha-2 country code(s) (two letters, e.g. DE, NL); fix or remove "
                         "them. Nothing was changed." % (role_var("countries"), ", ".join(repr(c) for c in bad),
                                                         "is" if len(bad) == 1 else "are"))
    out = []
    seen = set()
    for code in countries:
        code = code.upper()
        if code in seen:
            continue
        seen.add(code)
        for family, template in (("v4", url_v4), ("v6", url_v6)):
            if not template:
                continue
            try:
                url = template.format(cc=code.lower(), CC=code)
            except (KeyError, IndexError, ValueError):
                raise ValueError("%s %r: use {cc} or {CC} for the country code and no other braces. "
                                 "Nothing was changed." % (role_var("country_url_" + family), template))
            out.append({"url": url, "format": "plain", "country": code, "family": family})
    return out
