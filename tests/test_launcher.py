"""The installed `pyrunc` launcher: how every call starts (issue 14).

It runs the interpreter without `site` and with the cyclic garbage
collector off; what then waits for a container turns the collector back on.
Both ways the launcher can start (its shebang line, and sh reading line 2
when the shebang is still `#!/bin/sh`) give the same start."""
import gc
import os
import subprocess

import pytest

from conftest import PYRUNC

LAUNCHER = PYRUNC[0]

# imported through PYTHONPATH after the CLI (the launcher keeps a
# developer's sitecustomize working): reports how the interpreter started
PROBE = """\
import gc, sys
with open(%r, "w") as f:
    f.write("%%d %%d %%s" %% (sys.flags.no_site, gc.isenabled(), "site" in sys.modules))
"""

needs_launcher = pytest.mark.skipif(
    not os.path.basename(LAUNCHER) == "pyrunc" or not os.path.isfile(LAUNCHER),
    reason="pyrunc is run as `python -m pyrunc` here, not through the installed launcher")


def _start(tmp_path, argv):
    (tmp_path / "sitecustomize.py").write_text(PROBE % str(tmp_path / "out"))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    r = subprocess.run(argv + ["--version"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("pyrunc version "), r.stdout
    return (tmp_path / "out").read_text()


@needs_launcher
def test_launcher_starts_without_site_and_with_gc_off(tmp_path):
    assert _start(tmp_path, [LAUNCHER]) == "1 0 False"


@needs_launcher
def test_launcher_sh_line_starts_the_same_way(tmp_path):
    # the form pip installs (line 1 `#!/bin/sh`): sh runs line 2
    with open(LAUNCHER) as f:
        first, second = f.readline(), f.readline()
    assert first.startswith("#!") and "-S" in second
    assert _start(tmp_path, ["/bin/sh", LAUNCHER]) == "1 0 False"


def test_waiting_for_a_container_turns_gc_back_on():
    # in a child of ours: wait_exit_status reaps any child (waitpid(-1)),
    # and pytest's own must stay unreaped
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            from pyrunc.lifecycle.common import wait_exit_status
            gc.disable()
            inner = os.fork()
            if inner == 0:
                os._exit(7)
            if wait_exit_status(inner) == 7 and gc.isenabled():
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
