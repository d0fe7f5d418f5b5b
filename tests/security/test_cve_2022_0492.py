"""CVE-2022-0492: a container that can write a cgroup hierarchy above its
own cgroup (there: v1's release_agent of the root) runs code on the host.

pyrunc mounts a container's cgroup filesystem (type cgroup or cgroup2) only
once its init is in the container's cgroup and cgroup namespace: the mount
is then the container's own subtree, never the host's tree. (Before the
fix, a `cgroup2` mount was made first and the container got the host's
whole cgroup2 tree, writable with a rw mount.)
"""
import os

import pytest
from secutil import unique_id, weak_env

CG = "/sys/fs/cgroup"


def _host_dir(cgroups_path):
    from pyrunc.linux import cgroups
    kind = cgroups.detect(CG)
    if kind == "v2":
        return CG + cgroups_path
    if kind == "hybrid":
        return CG + "/unified" + cgroups_path
    return None


def _bundle(make_bundle):
    def edit(c):
        if not any(n["type"] == "cgroup" for n in c["linux"]["namespaces"]):
            c["linux"]["namespaces"].append({"type": "cgroup"})
        for m in c["mounts"]:
            if m["type"] == "cgroup":
                m["type"] = "cgroup2"
                m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    return make_bundle(["probe", "sleep", "60"], edit)


def _mounted_and_own(rt, b, env=None):
    """(inode of the container's /sys/fs/cgroup, inode of its own cgroup on
    the host, inode of the host's cgroup2 root)"""
    import json
    cid = unique_id()
    r = rt.cmd("run", "-d", "--bundle", b, cid, env=env)
    assert r.returncode == 0, r.stderr
    try:
        ino = int(rt.ok("exec", cid, "stat", "-c", "%i", "/sys/fs/cgroup").stdout)
        path = json.loads((b / "config.json").read_text())["linux"]["cgroupsPath"]
        return ino, os.stat(_host_dir(path)).st_ino, os.stat(_host_dir("/")).st_ino
    finally:
        rt.ok("delete", "--force", cid)


@pytest.fixture
def cgroup2_host():
    if _host_dir("/") is None:
        pytest.skip("no cgroup2 hierarchy on this host")


def test_cgroup2_mount_is_the_containers_own_subtree(rt, make_bundle, cgroup2_host):
    mounted, own, root = _mounted_and_own(rt, _bundle(make_bundle))
    assert mounted != root, "the host's cgroup2 root was mounted into the container"
    assert mounted == own


def test_cgroup2_mount_weakened_build_is_caught(rt, make_bundle, cgroup2_host):
    mounted, own, root = _mounted_and_own(rt, _bundle(make_bundle), env=weak_env("cgroupmount"))
    assert mounted == root and mounted != own, "the weakened runtime was not caught"
