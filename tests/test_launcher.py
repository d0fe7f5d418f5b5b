"""The installed `pyrunc` launcher: how every call starts (issue 14).

It runs the interpreter without `site` and with the cyclic garbage
collector off; what then waits for a container turns the collector back on.
Both ways the launcher can start (its shebang line, and sh reading line 2
when the shebang is still `#!/bin/sh`) give the same start."""
import gc
import importlib.util
import os
import shutil
import subprocess
import sys

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
            # what existed before is frozen: the first collection must
            # not walk every object made while gc was off
            if wait_exit_status(inner) == 7 and gc.isenabled() and gc.get_freeze_count() > 1000:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# -- the code bundle (pyrunc/codebundle.py) ----------------------------------

def _installed_pkg():
    venv = os.path.dirname(os.path.dirname(os.path.realpath(LAUNCHER)))
    return os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages",
                        "pyrunc")


@needs_launcher
def test_the_install_bundles_every_module_of_the_package():
    from pyrunc import codebundle
    pkg = _installed_pkg()
    magic, index = codebundle.read_index(os.path.join(pkg, codebundle.NAME))
    assert magic == importlib.util.MAGIC_NUMBER
    sources = {}
    for dirpath, _dirs, files in os.walk(pkg):
        for fn in files:
            if fn.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, fn), pkg)
                sources[rel] = os.path.getsize(os.path.join(pkg, rel))
    assert {e[0]: e[2] for e in index.values()} == sources
    assert index["pyrunc.cli"][:2] == ("cli/__init__.py", True)


POISON = ('import sys\n'
          'sys.stdout.write("from-bundle %s %s\\n" % (__file__, sys._getframe().f_code.co_filename))\n'
          'def main():\n    return 0\n')


@pytest.fixture
def fake_install(tmp_path):
    """A copy of the installed package, laid out as a venv beside a copy of
    the launcher, whose bundle serves a stand-in for pyrunc.cli of exactly
    the real file's size."""
    from pyrunc import codebundle
    sp = tmp_path / "venv" / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    pkg = sp / "pyrunc"
    shutil.copytree(_installed_pkg(), pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "venv" / "bin").mkdir()
    launcher = tmp_path / "venv" / "bin" / "pyrunc"
    shutil.copy(LAUNCHER, launcher)
    cli = pkg / "cli" / "__init__.py"
    real = cli.read_bytes()
    poison = POISON.encode()
    assert len(poison) < len(real)
    cli.write_bytes(poison + b"#" * (len(real) - len(poison) - 1) + b"\n")
    codebundle.build(str(pkg))
    cli.write_bytes(real)
    return launcher, pkg


def _version(launcher, pythonpath=None):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    r = subprocess.run([sys.executable, "-S", str(launcher), "--version"], capture_output=True,
                       text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


@needs_launcher
def test_the_launcher_imports_from_the_bundle(fake_install):
    launcher, pkg = fake_install
    origin = str(pkg / "cli" / "__init__.py")
    # the module and its code name the installed file (tracebacks)
    assert _version(launcher) == "from-bundle %s %s\n" % (origin, origin)


@needs_launcher
def test_the_launcher_ignores_a_stale_damaged_or_bypassed_bundle(fake_install, tmp_path):
    launcher, pkg = fake_install
    # PYTHONPATH may hold a developer's own modules: no bundle then
    assert _version(launcher, str(tmp_path)).startswith("pyrunc version ")
    # a source whose size changed since the build
    cli = pkg / "cli" / "__init__.py"
    saved = cli.read_bytes()
    cli.write_bytes(saved + b"\n")
    assert _version(launcher).startswith("pyrunc version ")
    cli.write_bytes(saved)
    assert _version(launcher).startswith("from-bundle ")
    # another interpreter's bytecode, then a truncated file
    bundle = pkg / "_bundle.bin"
    data = bundle.read_bytes()
    bundle.write_bytes(data.replace(importlib.util.MAGIC_NUMBER, b"\0\0\r\n", 1))
    assert _version(launcher).startswith("pyrunc version ")
    bundle.write_bytes(data[:40])
    assert _version(launcher).startswith("pyrunc version ")
