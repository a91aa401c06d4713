"""The deploy agent: runs ON the server (stdlib only, Python 3.8+).

It is shipped as one zipapp, ``ssm-deploy-agent-<sha256>.pyz``, built by
``ssm_action/payload.py`` from this package and ``ssm_action/contract/``
(``python -m zipfile -l <file>`` lists it, ``-e`` unpacks it). Usage::

    python agent.pyz --params-file PATH     # a JSON parameter object
    python agent.pyz --params-b64 B64       # the same JSON, UTF-8, base64

It deploys one exact commit of a Python app from its git clone: lock -> record
-> backup -> sync -> deps -> pre-stop hook -> stop -> start -> verify ->
post-start hook, and on a failure from sync on it puts the previous version
back (rollback-*), unless ``rollback`` is false. Each step prints one line with
its duration; the last line is the contract's result line (``SSM_DEPLOY_RESULT
{json}``) and the exit code is a ``contract.ExitCode``: 0 ok, 1 failed (previous
version not restored), 2 failed and rolled back, 3 busy, 4 bad parameters.

State lives OUTSIDE the work tree so ``git checkout -f`` / ``git clean`` never
touch it, in the sibling folder ``<app_dir>.deploy/``:

- ``deploy.lock``: held with an OS lock (flock / msvcrt) for the whole deploy;
  the OS drops it when the agent dies, so a lock whose owner is dead is simply
  taken over. ``lock-owner.json`` says who holds it (for the "busy" message).
- ``journal.json``: the deploy in progress (its DeployState: phase, previous
  SHA, backup, discarded paths, ``dirty`` once the work tree may have changed).
  A journal left by a killed agent tells the next deploy what the last good
  files were.
- ``app.json``: the PID file of the app process the agent started.
- ``last-good.json``: the last version that passed its checks (also kept
  reachable in the clone as ``refs/deploy/last-good``).
- ``deps.json``: hash of the requirements last fully installed in the venv.
- ``logs/<time>-<deploy_id>.log`` (full git/pip/hook output, newest 20 kept)
  and ``logs/app.log`` (the app's stdout/stderr).

Every state file is written to a temporary name, flushed and renamed.

Modules, in the order a deploy uses them: cli (parameters, exit code), deploy
(the steps and the rollback), lock, journal (DeployState), git (sync), backups,
venv (deps), app (hooks, stop, start, verify), health; under them output
(printing, logging, redaction), shell, files, layout, errors, and the platform
behind host.Platform: posix, windows.
"""
