"""A caller that times out kills pyrunc with SIGKILL, then runs
`delete --force` (containerd, podman). Whatever step create, start, exec or
delete itself was killed at, nothing of the container may remain after that
delete: no process, cgroup directory (any hierarchy), state entry, fifo or
mount. Each step is hit deterministically through PYRUNC_TEST_KILL_AT
(pyrunc/faults.py), and create is also killed at random moments."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import PYRUNC, unique_id, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (real containers)")

CREATE_POINTS = ["create-claimed", "cgroup-recorded", "cgroup-made", "cgroup-applied",
                 "create-forked", "create-init-forked", "create-init-in-cgroup",
                 "create-mounted", "create-init-ready", "create-saved"]
START_POINTS = ["start-locked", "start-released"]
EXEC_POINTS = ["exec-forked", "exec-in-cgroup", "exec-started"]
DELETE_POINTS = ["delete-stopped", "delete-cgroup-killed", "delete-cgroup-removed"]


def killed_at(rt, point, *args):
    env = dict(os.environ, PYRUNC_TEST_KILL_AT=point)
    r = rt.cmd(*args, env=env)
    assert r.returncode == -signal.SIGKILL, (point, r.returncode, r.stderr)


def residue(rt, bundle, cid):
    """Everything of the container still on the host (empty when clean)."""
    left = []
    if os.path.isdir(rt.root):
        left += ["state: %s" % n for n in os.listdir(rt.root)]
    cg = json.loads((bundle / "config.json").read_text())["linux"]["cgroupsPath"]
    # every v1 hierarchy, the cgroup2 mount of a hybrid host, or the root of
    # a pure v2 one
    for d in ["/sys/fs/cgroup" + cg] + ["/sys/fs/cgroup/%s%s" % (h, cg)
                                        for h in os.listdir("/sys/fs/cgroup")]:
        if os.path.isdir(d):
            left.append("cgroup: " + d)
    me = os.getpid()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if cid.encode() in cmd or str(bundle).encode() in cmd:
            left.append("process %s: %r" % (p, cmd))
    with open("/proc/self/mountinfo") as f:
        left += ["mount: " + ln.split()[4] for ln in f if str(bundle) in ln]
    return left


def assert_clean(rt, bundle, cid):
    # processes that lost pyrunc exit on their own (EOF on the socket); give
    # them a moment, but the state and the cgroups must be gone at once
    left = residue(rt, bundle, cid)
    assert not [x for x in left if not x.startswith("process")], left
    assert wait_for(lambda: not residue(rt, bundle, cid), timeout=5), residue(rt, bundle, cid)


@pytest.mark.parametrize("point", CREATE_POINTS)
def test_create_killed_then_delete_force_leaves_nothing(rt, make_bundle, point):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    killed_at(rt, point, "create", "--bundle", b, cid)
    rt.ok("delete", "--force", cid)
    assert_clean(rt, b, cid)


@pytest.mark.parametrize("point", START_POINTS)
def test_start_killed_then_delete_force_leaves_nothing(rt, make_bundle, point):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    killed_at(rt, point, "start", cid)
    rt.ok("delete", "--force", cid)
    assert_clean(rt, b, cid)


@pytest.mark.parametrize("point", EXEC_POINTS)
def test_exec_killed_then_delete_force_leaves_nothing(rt, make_bundle, point):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    killed_at(rt, point, "exec", "--detach", cid, "probe", "sleep", "60")
    rt.ok("delete", "--force", cid)
    assert_clean(rt, b, cid)


@pytest.mark.parametrize("point", DELETE_POINTS)
def test_delete_killed_then_delete_force_leaves_nothing(rt, make_bundle, point):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    killed_at(rt, point, "delete", "--force", cid)
    rt.ok("delete", "--force", cid)
    assert_clean(rt, b, cid)


def test_create_killed_at_random_moments(rt, make_bundle):
    """As a caller's timeout would: SIGKILL 1-60 ms after create starts."""
    b = make_bundle(["probe", "sleep", "60"])
    rng = random.Random(1234)
    for i in range(12):
        cid = unique_id()
        p = subprocess.Popen(PYRUNC + ["--root", rt.root, "create", "--bundle", str(b), cid],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.001, 0.060))
        p.kill()
        p.wait()
        rt.ok("delete", "--force", cid)
        assert_clean(rt, b, cid)


def test_an_init_that_fails_early_reports_its_own_error(rt, make_bundle):
    """The init fails its set-up before pyrunc moves it into its cgroup:
    the error is the init's (the bad mount), not the ESRCH of the move."""
    b = make_bundle(["true"], lambda c: c["mounts"].insert(
        0, {"destination": "/x", "type": "nosuchfs", "source": "none"}))
    env = dict(os.environ, PYRUNC_TEST_SLEEP_AT="create-init-forked:0.5")
    r = rt.cmd("run", "--bundle", b, unique_id(), env=env)
    assert r.returncode == 1
    assert "error mounting /x (type nosuchfs)" in r.stderr and "no such process" not in r.stderr, \
        r.stderr
    assert rt.ids() == []
