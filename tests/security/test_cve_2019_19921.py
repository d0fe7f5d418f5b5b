"""CVE-2019-19921 / CVE-2023-27561 (and CVE-2023-28642): an image whose
/proc or /sys is a symlink. The proc/sysfs mount would land where the link
points (inside the rootfs, on a shared volume, or on the host), so create
must fail closed with 'must be mounted on ordinary directory', mount
nothing on the target, and leave no state.
"""
import os

import pytest

from secutil import mountpoints, tree, unique_id, weak_env


def link_bundle(make_bundle, tmp_path, which, how):
    """R/<which> is a symlink: to /bad-<which> inside the rootfs, to an
    absolute host directory, or to a directory on a volume mounted at /vol."""
    host = tmp_path / ("host-" + which)
    host.mkdir()
    (host / "keep").write_text("x")
    vol = tmp_path / "vol"
    (vol / "p").mkdir(parents=True)

    def edit(c):
        if how == "volume":
            c["mounts"].insert(0, {"destination": "/vol", "type": "bind", "source": str(vol),
                                   "options": ["rbind"]})
        if which == "sys":
            # the cgroup mount below /sys would fail first for another reason
            c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    b = make_bundle(["true"], edit)
    r = b / "rootfs"
    os.rmdir(r / which)
    inside = r / ("bad-" + which)
    inside.mkdir()
    target = {"inside": "/bad-" + which, "host": str(host), "volume": "/vol/p"}[how]
    os.symlink(target, r / which)
    return b, [inside, host, vol / "p"]


@pytest.mark.parametrize("how", ["inside", "host", "volume"])
@pytest.mark.parametrize("which", ["proc", "sys"])
def test_symlinked_proc_or_sys_fails_closed(rt, make_bundle, tmp_path, which, how):
    b, targets = link_bundle(make_bundle, tmp_path, which, how)
    before = {str(t): tree(t) for t in targets}
    mounts_before = mountpoints()
    cid = unique_id()
    r = rt.cmd("run", "--bundle", b, cid)
    fs = {"proc": "proc", "sys": "sysfs"}[which]
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert 'filesystem "%s" must be mounted on ordinary directory' % fs in r.stderr
    assert rt.ids() == [] and not os.path.exists(os.path.join(rt.root, cid))
    assert mountpoints() == mounts_before
    assert {str(t): tree(t) for t in targets} == before


def test_symlinked_proc_weakened_build_is_caught(rt, make_bundle, tmp_path):
    """With the path resolution of pyrunc weakened to host-side string paths
    that follow symlinks, the same bundle (R/proc -> an absolute host dir)
    is accepted: the proc mount goes onto the host directory, and the test
    above would fail."""
    b, targets = link_bundle(make_bundle, tmp_path, "proc", "host")
    cid = unique_id()
    r = rt.cmd("run", "--bundle", b, cid, env=weak_env("paths"))
    try:
        assert r.returncode == 0, "the weakened runtime still refused: %s" % r.stderr
        assert "must be mounted on ordinary directory" not in r.stderr
    finally:
        rt.cmd("delete", "--force", cid)
    # the mount was in the container's mount namespace only
    assert not any(str(tmp_path) in m for m in mountpoints())
