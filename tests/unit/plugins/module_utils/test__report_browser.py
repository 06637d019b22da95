"""report.html as a person sees it: opened in headless Chromium (Debian's package), no script
errors, every chart drawn non-empty, and a screenshot kept in tests/output/ (not committed)."""

import os
import re
import shutil
import subprocess

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _report_bundle as rb
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_output as ro
from ansible_collections.quietnode.baseline.plugins.module_utils import _report_rules as rr

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'report')
OUTPUT = os.path.join(ROOT, 'tests', 'output', 'report-browser')
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')

pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get('QN_REQUIRE_CHROMIUM'),
                                reason='chromium is not installed (make unit installs it)')


def chromium(*args):
    base = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run',
            '--disable-dev-shm-usage', '--user-data-dir=%s' % os.path.join(OUTPUT, 'profile'), '--virtual-time-budget=5000']
    return subprocess.run(base + list(args), capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope='module')
def page():
    assert CHROMIUM, 'chromium is required: run tests/scripts/ensure-chromium.sh'
    os.makedirs(OUTPUT, exist_ok=True)
    ev = rb.read_bundle(os.path.join(FIXTURES, 'debian12.tar.gz'))
    ctx = rr.Context(allowlist=['172.31.213.1'])
    _doc, paths = ro.write_outputs(ev, rr.evaluate(ev, ctx), ctx, OUTPUT)
    return paths['html']


def test_report_loads_without_errors_and_draws_its_charts(page):
    result = chromium('--dump-dom', 'file://' + page)
    dom = result.stdout
    assert '<main>' in dom, result.stderr[-2000:]
    errors = re.search(r'<div id="js-errors">(.*?)</div>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == '', errors and errors.group(1)
    assert int(re.search(r'data-charts="(\d+)"', dom).group(1)) >= 8
    for chart in ('c-cpu', 'c-events', 'c-load', 'c-mem', 'c-net-0', 'c-tcp', 'c-disk'):
        match = re.search(r'id="%s"[^>]*data-drawn="(\w+)"|data-drawn="(\w+)"[^>]*id="%s"' % (chart, chart), dom)
        assert match and 'yes' in match.groups(), chart
    points = [int(n) for n in re.findall(r'data-points="(\d+)"', dom)]
    assert points and min(points[:2]) > 0
    # the CPU-by-range table starts filled with the whole window, ranked by CPU seconds
    rows = re.search(r'<tbody id="range-rows">(.*?)</tbody>', dom, re.S).group(1)
    assert '.kworkerd' in rows and 'www-data' in rows


def test_screenshot_is_kept(page):
    shot = os.path.join(OUTPUT, 'report.png')
    if os.path.exists(shot):
        os.unlink(shot)
    chromium('--screenshot=%s' % shot, '--window-size=1280,3000', 'file://' + page)
    assert os.path.getsize(shot) > 20000


def _cpu_chart(ev, name):
    """The CPU chart's markup, as Chromium drew it from a report of ev."""
    ctx = rr.Context(allowlist=['172.31.213.1'])
    out = os.path.join(OUTPUT, name)
    os.makedirs(out, exist_ok=True)
    _doc, paths = ro.write_outputs(ev, rr.evaluate(ev, ctx), ctx, out)
    dom = chromium('--dump-dom', 'file://' + paths['html']).stdout
    return re.search(r'<div class="chart" id="c-cpu"[^>]*>(.*?)</svg>', dom, re.S).group(1)


def test_a_cpu_chart_without_samples_says_so():
    # The README run's bundle: collected a minute after the first run, before sysstat's first sample.
    ev = rb.read_bundle(os.path.join(FIXTURES, 'readme-debian12.tar.gz'))
    assert not ev.samples
    cpu = _cpu_chart(ev, 'no-samples')
    assert 'class="empty-note"' in cpu and 'no CPU sample from sysstat in this window' in cpu
    assert '<circle' in cpu  # its events are drawn all the same


def test_a_lone_sample_is_drawn_as_a_dot():
    ev = rb.read_bundle(os.path.join(FIXTURES, 'debian12.tar.gz'))
    kept = sorted(ev.samples)[len(ev.samples) // 2]
    ev.samples = {kept: ev.samples[kept]}
    cpu = _cpu_chart(ev, 'one-sample')
    assert cpu.count('class="lone"') == 4  # user, system, iowait, steal
    assert 'empty-note' not in cpu
