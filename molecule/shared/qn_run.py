"""Re-running a playbook from a scenario's tests, as an operator would from the checkout."""

import os
import subprocess

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ansible_env(config, **extra):
    """The environment of a run from the checkout: the given ansible.cfg, this collection and the venv's, no colour."""
    env = dict(os.environ, ANSIBLE_CONFIG=config,
               ANSIBLE_COLLECTIONS_PATH="%s/collections:%s/.venv/collections" % (PROJECT, PROJECT),
               ANSIBLE_ROLES_PATH=os.path.join(PROJECT, "roles"), ANSIBLE_FORCE_COLOR="0")
    env.update(extra)
    return env


def playbook(argv, config, timeout=600, cwd=None, **env_extra):
    """ansible-playbook with argv (inventories, playbook, options); returns (rc, stdout and stderr together)."""
    proc = subprocess.run(["ansible-playbook"] + list(argv), env=ansible_env(config, **env_extra), cwd=cwd,
                          timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    return proc.returncode, proc.stdout
