"""Shared fixtures: the pyrunc command, a private state root, bundles made
from a busybox rootfs with the static probe (tests/probe/probe.c), and a
check that every test leaves nothing behind (state, cgroups, mounts).
"""
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# what real callers (podman, containerd, dockerd) and runc produced: our own
# fixtures, recorded in tests/fixtures/callers/README.md
CALLERS = HERE / "fixtures" / "callers"
CONFIGS = CALLERS / "configs"
REFERENCE = CALLERS / "runc-reference"


def pyrunc_command():
    """The installed console script next to this interpreter (a venv), or
    `python -m pyrunc` as a fallback (PYTHONPATH set by the developer)."""
    env = os.environ.get("PYRUNC")
    if env:
        return [env]
    cand = Path(sys.executable).parent / "pyrunc"
    if cand.exists():
        return [str(cand)]
    return [sys.executable, "-m", "pyrunc"]


PYRUNC = pyrunc_command()


@pytest.fixture(scope="session")
def base_rootfs(tmp_path_factory):
    """busybox + probe, made once per session."""
    d = tmp_path_factory.mktemp("rootfs") / "rootfs"
    subprocess.run(["sh", str(REPO / "bundles" / "make-rootfs.sh"), str(d)], check=True)
    subprocess.run(["cc", "-static", "-Os", "-s", "-o", str(d / "bin" / "probe"),
                    str(HERE / "probe" / "probe.c")], check=True)
    return d


class Runtime:
    """pyrunc with a private --root; remembers nothing else."""

    def __init__(self, root):
        self.root = str(root)

    def cmd(self, *args, **kw):
        """Run pyrunc; stdout/stderr go to files, not pipes: a created
        container keeps the stdio it was given (as with runc), so waiting
        for EOF on a pipe would wait for the container."""
        import tempfile
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run(PYRUNC + ["--root", self.root] + [str(a) for a in args],
                               stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                               timeout=kw.pop("timeout", 60), **kw)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())

    def ok(self, *args, **kw):
        r = self.cmd(*args, **kw)
        assert r.returncode == 0, "pyrunc %s failed (%d): %s%s" % (
            " ".join(map(str, args)), r.returncode, r.stdout, r.stderr)
        return r

    def state(self, cid):
        return json.loads(self.ok("state", cid).stdout)

    def ids(self):
        if not os.path.isdir(self.root):
            return []       # (list of a --root that does not exist is an error)
        return self.ok("list", "-q").stdout.split()


def _own_cgroup_dirs(tag):
    found = []
    for top, dirs, _files in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            if tag in d:
                found.append(os.path.join(top, d))
        if top.count("/") > 6:
            dirs[:] = []
    return found


@pytest.fixture
def rt(tmp_path):
    """A Runtime with its own state root; after the test every container
    is force-deleted and the test fails if anything was left behind."""
    r = Runtime(tmp_path / "state")
    yield r
    left = []
    for cid in (os.listdir(r.root) if os.path.isdir(r.root) else []):
        left.append(cid)
        r.cmd("delete", "--force", cid)
    assert not left, "test left containers behind: %s" % left


@pytest.fixture
def make_bundle(tmp_path, base_rootfs):
    """make_bundle(args, **config overrides) -> bundle dir with a copy of
    the rootfs and a config from `pyrunc spec` (no terminal)."""
    n = [0]

    def make(args=("true",), edit=None, rootfs_copy=True):
        n[0] += 1
        b = tmp_path / ("bundle%d" % n[0])
        b.mkdir()
        if rootfs_copy:
            shutil.copytree(base_rootfs, b / "rootfs", symlinks=True)
        else:
            (b / "rootfs").symlink_to(base_rootfs)
        subprocess.run(PYRUNC + ["spec", "--bundle", str(b)], check=True)
        cfg = json.loads((b / "config.json").read_text())
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = list(args)
        # tests own their cgroup under a recognisable path
        cfg["linux"]["cgroupsPath"] = "/%s/%s" % (CGROUP_PARENT, uuid.uuid4().hex[:12])
        if edit:
            edit(cfg)
        (b / "config.json").write_text(json.dumps(cfg, indent=1))
        return b
    return make


@pytest.fixture
def traversable(tmp_path):
    """The mapped root of a user namespace is an ordinary host uid: like
    runc, pyrunc needs the bundle's path to be searchable by it."""
    saved = []
    p = tmp_path
    while str(p) != "/tmp":
        saved.append((p, os.stat(p).st_mode & 0o7777))
        os.chmod(p, saved[-1][1] | 0o011)
        p = p.parent
    yield
    for p, mode in saved:
        os.chmod(p, mode)


# this session's containers live under one cgroup parent, checked at the end
CGROUP_PARENT = "pyrunc-test-%s" % uuid.uuid4().hex[:8]


def wait_for(cond, timeout=10.0, step=0.02):
    """cond()'s first true value within timeout (the last value otherwise)."""
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def gone_or_zombie(pid, states="ZX"):
    """pid has exited: no /proc entry, or a zombie not yet reaped.  Reads the
    stat file once, so a process reaped between two looks cannot fail it."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in states


def unique_id(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


@pytest.fixture(scope="session", autouse=True)
def no_leftovers():
    """After the session: none of this session's cgroups remain (the
    shared parent dir itself is removed here)."""
    yield
    left = _own_cgroup_dirs(CGROUP_PARENT)
    for d in sorted(left, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass
    left = [d for d in left if os.path.exists(d) or not d.endswith(CGROUP_PARENT)]
    assert not [d for d in left if os.path.exists(d)], "cgroups left: %s" % left
