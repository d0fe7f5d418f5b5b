"""CVE-2024-45310: making a mount destination (MkdirAll) through an absolute
symlink that names a path which does not exist on the host.

`R/a -> /tmp/rt-host-<rand>`: mounts at /a/b/c (tmpfs) and /a/file (a
file bind). Afterwards /tmp/rt-host-<rand> must not exist on the host; if
create succeeds, the mounts live inside the rootfs, at
R/tmp/rt-host-<rand>/... (the link resolved with the rootfs as /).

The last tests check the same resolution rule where the symlink target
exists in the image (runc mounts.bats "tmpfs mount with absolute symlink"):
destinations under an image symlink such as Debian's /var/run -> /run must
be made at the link's target inside the rootfs.
"""
import os
import shutil
import uuid

import pytest

from secutil import mountpoints, unique_id, weak_env

SHOW = "awk '$5 ~ /rt-host|\\/c$|\\/file$/ {print $5, $9}' /proc/self/mountinfo"


def mkdir_bundle(make_bundle, tmp_path):
    name = "rt-host-" + uuid.uuid4().hex[:12]
    host = "/tmp/" + name
    src = tmp_path / "srcfile"
    src.write_text("bound\n")

    def edit(c):
        c["mounts"] += [
            {"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
            {"destination": "/a/file", "type": "bind", "source": str(src), "options": ["bind"]},
        ]
    b = make_bundle(["sh", "-c", SHOW], edit)
    os.symlink(host, b / "rootfs" / "a")
    return b, host


def test_mkdir_through_dangling_absolute_symlink_stays_in_rootfs(rt, make_bundle, tmp_path):
    b, host = mkdir_bundle(make_bundle, tmp_path)
    mounts_before = mountpoints()
    try:
        r = rt.cmd("run", "--bundle", b, unique_id())
        assert not os.path.lexists(host), "the runtime created %s on the host" % host
        assert mountpoints() == mounts_before
        if r.returncode == 0:
            lines = r.stdout.splitlines()
            assert "%s/b/c tmpfs" % host in lines, lines
            assert any(l.startswith("%s/file " % host) for l in lines), lines
            assert (b / "rootfs" / host.lstrip("/") / "b" / "c").is_dir()
        else:
            assert rt.ids() == []
    finally:
        if os.path.lexists(host):
            shutil.rmtree(host)


def test_mkdir_through_dangling_absolute_symlink_weakened_build_is_caught(rt, make_bundle,
                                                                          tmp_path):
    """A weakened pyrunc (host-side os.makedirs on string paths) creates
    /tmp/rt-host-<rand>/b/c on the host: the test above would fail."""
    b, host = mkdir_bundle(make_bundle, tmp_path)
    try:
        rt.cmd("run", "--bundle", b, unique_id(), env=weak_env("paths"))
        assert os.path.isdir(host + "/b/c"), "the weakened runtime did not touch the host"
    finally:
        if os.path.lexists(host):
            shutil.rmtree(host)
    assert not os.path.lexists(host)


@pytest.mark.parametrize("link", ["/run", "../run"], ids=["absolute", "relative"])
def test_mount_under_image_symlink_is_made_at_its_target_in_rootfs(rt, make_bundle, link):
    """R/var/run -> /run (or ../run): a tmpfs at /var/run/secrets is
    mounted on R/run/secrets."""
    def edit(c):
        c["mounts"].append({"destination": "/var/run/secrets", "type": "tmpfs",
                            "source": "tmpfs", "options": ["size=1m"]})
    b = make_bundle(["sh", "-c", "awk '$5 ~ /secrets/ {print $5, $9}' /proc/self/mountinfo"],
                    edit)
    r = b / "rootfs"
    (r / "run").mkdir(exist_ok=True)
    (r / "var").mkdir(exist_ok=True)
    os.symlink(link, r / "var" / "run")
    res = rt.cmd("run", "--bundle", b, unique_id())
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["/run/secrets", "tmpfs"]
