"""Many bundles in one process: a pool of forked workers writes each report beside its bundle, in the jobs'
order, the same as one report at a time; a bundle that fails verification gets no report and names itself."""

import os
import shutil

from ansible_collections.quietnode.baseline.plugins.module_utils import _report_fleet as fleet

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', '..', 'fixtures', 'report')


def copy(tmp_path, distro, host):
    path = tmp_path / host / ('evidence-%s-20261130T000000Z.tar.gz' % host)
    path.parent.mkdir()
    shutil.copy(os.path.join(FIXTURES, distro + '.tar.gz'), str(path))
    shutil.copy(os.path.join(FIXTURES, distro + '.tar.gz.sha256'), str(path) + '.sha256')
    return str(path)


def test_a_pool_writes_every_report_as_one_at_a_time_would(tmp_path):
    bundles = [copy(tmp_path, 'debian12', 'web1'), copy(tmp_path, 'debian13', 'web2'), copy(tmp_path, 'debian12', 'web3')]
    jobs = [{'bundle': b, 'allowlist': ['172.31.213.1']} for b in bundles]
    pooled = fleet.report_many(jobs, workers=2)
    assert [r['bundle'] for r in pooled] == bundles
    for result, bundle in zip(pooled, bundles):
        assert result['report'] == os.path.join(os.path.dirname(bundle), 'report.html') and os.path.getsize(result['report'])
        assert os.path.exists(result['findings_file'])
    alone = [fleet.report_one(dict(j, check=True)) for j in jobs]
    assert [[f['id'] for f in r['findings']] for r in pooled] == [[f['id'] for f in r['findings']] for r in alone]
    assert pooled[0]['host'] == 'qn-h5-debian12' and pooled[1]['host'] == 'qn-h5-debian13'


def test_a_bundle_that_fails_verification_gets_no_report_and_the_others_do(tmp_path):
    good, bad = copy(tmp_path, 'debian12', 'web1'), copy(tmp_path, 'debian13', 'web2')
    with open(bad, 'r+b') as handle:
        handle.truncate(os.path.getsize(bad) // 2)
    results = fleet.report_many([{'bundle': good}, {'bundle': bad}], workers=2)
    assert 'error' not in results[0] and os.path.exists(results[0]['report'])
    assert results[1]['bundle'] == bad and bad in results[1]['error']
    assert not os.path.exists(os.path.join(os.path.dirname(bad), 'report.html'))
