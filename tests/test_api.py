"""The Python API (pyrunc.Runtime), driving real containers in this process."""
import ctypes
import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import PYRUNC, unique_id, wait_for

import pyrunc
from pyrunc.errors import ConfigError, ContainerExists, ExecStoppedError, NotFound, \
    PyruncError, UsageError


@pytest.fixture
def api(tmp_path):
    """A Runtime over a private root; the test fails if it leaves a container."""
    r = pyrunc.Runtime(root=tmp_path / "state")
    yield r
    left = r.ids() if os.path.isdir(r.root) else []
    for cid in left:
        r.delete(cid, force=True)
    assert not left, "test left containers behind: %s" % left


def cli(root, *args):
    return subprocess.run(PYRUNC + ["--root", str(root)] + [str(a) for a in args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)


def subreaper():
    flag = ctypes.c_int(-1)
    assert ctypes.CDLL(None, use_errno=True).prctl(37, ctypes.byref(flag), 0, 0, 0) == 0
    return flag.value


def stopped(api, cid):
    return wait_for(lambda: api.state(cid)["status"] == "stopped")


def test_create_start_exec_kill_delete(api, make_bundle, tmp_path):
    b = make_bundle(["sleep", "60"])
    cid = unique_id("api")
    pidfile = tmp_path / "pid"
    assert api.create(cid, str(b), pid_file=str(pidfile)) is None
    st = api.state(cid)
    assert st["status"] == "created" and st["pid"] == int(pidfile.read_text())
    assert st["id"] == cid and st["bundle"] == str(b) and st["rootfs"] == str(b / "rootfs")
    # exactly what `pyrunc state` prints
    assert json.loads(cli(api.root, "state", cid).stdout) == st
    api.start(cid)
    assert api.state(cid)["status"] == "running"
    with pytest.raises(PyruncError, match="cannot start an already running container"):
        api.start(cid)
    assert api.exec(cid, ["true"]) == 0
    assert api.exec(cid, ["sh", "-c", "exit 3"]) == 3
    assert api.exec(cid, ["sh", "-c", 'test "$FOO" = bar && test "$(pwd)" = /tmp'],
                    env=["FOO=bar"], cwd="/tmp") == 0
    assert api.list() == [api.state(cid)]
    assert api.ids() == [cid]
    with pytest.raises(UsageError, match="invalid signal: NOPE"):
        api.kill(cid, "NOPE")
    api.kill(cid, 0)        # only checks the init is there
    assert api.state(cid)["status"] == "running"
    api.kill(cid, signal.SIGKILL)
    assert stopped(api, cid)
    assert api.state(cid)["pid"] == 0
    with pytest.raises(PyruncError, match="container not running"):
        api.kill(cid, "SIGTERM")
    with pytest.raises(ExecStoppedError, match="cannot exec in a stopped container"):
        api.exec(cid, ["true"])
    api.delete(cid)
    with pytest.raises(NotFound):
        api.state(cid)
    assert api.ids() == [] and api.list() == []
    assert not os.path.exists(os.path.join(api.root, cid))


def test_kill_by_name_and_delete_needs_force(api, make_bundle):
    b = make_bundle(["sleep", "60"])
    cid = unique_id("api")
    api.run(cid, b, detach=True)
    assert api.state(cid)["status"] == "running"
    with pytest.raises(PyruncError, match="that is not stopped: running"):
        api.delete(cid)
    api.kill(cid, "KILL", all=True)
    assert stopped(api, cid)
    api.delete(cid)
    assert api.ids() == []


def test_run_in_the_foreground_returns_the_exit_status(api, make_bundle):
    handler = signal.getsignal(signal.SIGINT)
    before = subreaper()
    b = make_bundle(["sh", "-c", "exit 7"])
    assert api.run(unique_id("api"), b) == 7
    assert api.ids() == []                  # deleted after it exited
    # what run changed in this process is put back
    assert signal.getsignal(signal.SIGINT) is handler
    assert subreaper() == before
    # keep=True leaves the stopped container
    cid = unique_id("api")
    assert api.run(cid, make_bundle(["true"]), keep=True) == 0
    assert api.state(cid)["status"] == "stopped"
    api.delete(cid)


def test_context_manager_deletes_what_it_created(tmp_path, make_bundle):
    root = tmp_path / "state"
    other = unique_id("api-other")
    outside = pyrunc.Runtime(root)
    outside.create(other, make_bundle(["sleep", "60"]))
    with pyrunc.Runtime(root) as rt:
        a, d = unique_id("api"), unique_id("api")
        rt.create(a, make_bundle(["sleep", "60"]))
        rt.run(d, make_bundle(["sleep", "60"]), detach=True)
        assert rt.state(a)["status"] == "created" and rt.state(d)["status"] == "running"
        assert sorted(rt.ids()) == sorted([a, d, other])
    # gone (the running one killed first); a container it did not make stays
    assert outside.ids() == [other]
    outside.delete(other, force=True)
    assert outside.ids() == []
    # an id it created, deleted and made again by someone else is not its own
    with pyrunc.Runtime(root) as rt:
        cid = unique_id("api")
        rt.create(cid, make_bundle(["sleep", "60"]))
        outside.delete(cid, force=True)
        outside.create(cid, make_bundle(["sleep", "60"]))
    assert outside.state(cid)["status"] == "created"
    outside.delete(cid, force=True)
    assert outside.ids() == []


def test_context_manager_cleans_up_when_the_block_raises(tmp_path, make_bundle):
    root = tmp_path / "state"
    with pytest.raises(RuntimeError, match="in the block"):
        with pyrunc.Runtime(root) as rt:
            cid = unique_id("api")
            rt.create(cid, make_bundle(["sleep", "60"]))
            rt.start(cid)
            raise RuntimeError("in the block")
    assert pyrunc.Runtime(root).ids() == []


def test_context_manager_cleanup_errors(tmp_path, make_bundle, monkeypatch):
    """A failing cleanup does not replace the block's exception; without
    one in flight it is raised."""
    import pyrunc.lifecycle.delete as ldelete
    root = tmp_path / "state"
    real_delete = ldelete.delete

    def failing(*a, **kw):
        raise PyruncError("cleanup failed")
    b = make_bundle(["sleep", "60"])
    monkeypatch.setattr(ldelete, "delete", failing)
    with pytest.raises(ValueError, match="in the block"):
        with pyrunc.Runtime(root) as rt:
            rt.create(unique_id("api"), b)
            raise ValueError("in the block")
    with pytest.raises(PyruncError, match="cleanup failed"):
        with pyrunc.Runtime(root) as rt:
            rt.create(unique_id("api"), make_bundle(["sleep", "60"]))
    monkeypatch.setattr(ldelete, "delete", real_delete)
    rt = pyrunc.Runtime(root)
    assert len(rt.ids()) == 2           # both left by the failed cleanups
    for cid in rt.ids():
        rt.delete(cid, force=True)
    assert rt.ids() == []


def test_unknown_id_is_not_found(api):
    cid = unique_id("api-nope")
    for call in (api.state, api.start, api.kill, api.delete, api.pause, api.resume,
                 lambda c: api.exec(c, ["true"])):
        with pytest.raises(NotFound, match="container does not exist"):
            call(cid)
    api.delete(cid, force=True)     # as runc: not an error


@pytest.mark.parametrize("breakage", ["json", "schema"])
def test_broken_config_raises_config_error_and_leaves_nothing(api, make_bundle, breakage):
    b = make_bundle(["true"])
    if breakage == "json":
        (b / "config.json").write_text('{"ociVersion": "1.3.0", ')
    else:
        cfg = json.loads((b / "config.json").read_text())
        cfg["linux"]["namespaces"].append({"type": "bogus"})
        (b / "config.json").write_text(json.dumps(cfg))
    cid = unique_id("api")
    with pytest.raises(ConfigError):
        api.create(cid, b)
    with pytest.raises(ConfigError):
        api.run(cid, b)
    assert not os.path.exists(os.path.join(api.root, cid))


def test_duplicate_id_raises_container_exists(api, make_bundle):
    cid = unique_id("api")
    api.create(cid, make_bundle(["sleep", "60"]))
    with pytest.raises(ContainerExists, match="container with given ID already exists"):
        api.create(cid, make_bundle(["sleep", "60"]))
    with pytest.raises(ContainerExists):
        api.run(cid, make_bundle(["true"]))
    assert api.state(cid)["status"] == "created"    # the first one is untouched
    api.delete(cid, force=True)


def test_pause_resume(api, make_bundle):
    cid = unique_id("api")
    api.run(cid, make_bundle(["sleep", "60"]), detach=True)
    api.pause(cid)
    assert api.state(cid)["status"] == "paused"
    with pytest.raises(PyruncError, match="container not running"):
        api.pause(cid)
    api.resume(cid)
    assert api.state(cid)["status"] == "running"
    api.delete(cid, force=True)


def test_exec_detached_and_bad_arguments(api, make_bundle, tmp_path):
    cid = unique_id("api")
    api.run(cid, make_bundle(["sleep", "60"]), detach=True)
    pidfile = tmp_path / "exec.pid"
    assert api.exec(cid, ["sleep", "30"], detach=True, pid_file=str(pidfile)) == 0
    pid = int(pidfile.read_text())
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        assert f.read() == b"sleep\x0030\x00"
    with pytest.raises(TypeError, match="bogus"):
        api.exec(cid, ["true"], bogus=1)
    with pytest.raises(TypeError):
        api.exec(cid, "true")
    with pytest.raises(TypeError):
        api.create(unique_id("api"), "/nonexistent", detach=True)
    api.delete(cid, force=True)


def test_list_of_a_missing_root(tmp_path):
    rt = pyrunc.Runtime(tmp_path / "missing")
    with pytest.raises(PyruncError, match="no such file or directory"):
        rt.list()


def test_default_root_is_the_clis(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert pyrunc.Runtime(rootless=True).root == str(tmp_path / "pyrunc")
    assert pyrunc.Runtime(rootless=False).root == "/run/pyrunc"
    assert pyrunc.Runtime("rel").root == os.path.abspath("rel")
    with pytest.raises(TypeError):
        pyrunc.Runtime(rootless=1)


def test_import_pyrunc_stays_cheap(tmp_path):
    code = ("import sys, pyrunc\n"
            "assert 'pyrunc.api' not in sys.modules\n"
            "import pyrunc.api\n"
            "print(sorted(m for m in sys.modules if m.startswith('pyrunc')))\n"
            "assert pyrunc.Runtime is pyrunc.api.Runtime\n"
            # the CLI's path for state: no pyrunc._api (run/exec/list's helpers)
            "from pyrunc.cli import Ctx\n"
            "from pyrunc.errors import NotFound\n"
            "ctx = Ctx(dict(root=%r, rootless=None, debug=False, systemd_cgroup=False,"
            " criu=None), 'state')\n"
            "try:\n"
            "    pyrunc.Runtime.from_ctx(ctx).state('nope')\n"
            "except NotFound:\n"
            "    pass\n"
            "assert 'pyrunc._api' not in sys.modules\n" % str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/").stdout
    # pyrunc.api loads nothing of pyrunc at import time
    assert out.strip() == "['pyrunc', 'pyrunc.api']"


def test_plan_and_validate_through_runtime(tmp_path, make_bundle):
    """plan() is the CLI's plan as a dict and changes nothing; validate()
    raises InvalidBundle listing every problem."""
    from pyrunc import Runtime
    from pyrunc.errors import ConfigError, InvalidBundle
    b = make_bundle(rootfs_copy=False)
    rt = Runtime(root=str(tmp_path / "state"))
    plan = rt.plan(str(b), "api-plan")
    assert plan["problems"] == [] and plan["process"]["args"] == ["true"]
    assert not os.path.exists(str(tmp_path / "state" / "api-plan"))
    assert rt.validate(str(b)) is None
    cfg = json.loads((b / "config.json").read_text())
    cfg["linux"]["sysctl"] = {"kernel.core_pattern": "x"}
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}]
    (b / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InvalidBundle) as e:
        rt.validate(str(b))
    assert isinstance(e.value, ConfigError)
    assert [p for p, _t in e.value.problems] == ["/process/rlimits", "/linux/sysctl"]
