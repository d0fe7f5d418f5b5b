"""CVE-2026-41579 (crun CVE-2026-47766): an image whose /dev is a symlink
to a host directory. Populating /dev (default devices, linux.devices, the
fd/stdin/stdout/stderr and ptmx symlinks) must never create, replace or
delete anything in that host directory - whether create succeeds or fails.
"""
import os
import shutil
import uuid

import pytest

from secutil import drop_mounts, tree, unique_id, weak_env


def devlink_bundle(make_bundle, tmp_path, variant):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "ptmx").write_text("MARK-" + uuid.uuid4().hex + "\n")

    def edit(c):
        c["root"]["readonly"] = True
        drop_mounts(c, "/dev")
        if variant == "tmpfs":
            c["mounts"].append({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                                "options": ["nosuid", "mode=755", "size=1m"]})
        if variant == "devices":
            c["linux"]["devices"] = [{"path": "/dev/evil", "type": "c", "major": 1, "minor": 3,
                                      "fileMode": 0o666}]
    b = make_bundle(["sh", "-c", "ls -la /dev/ 2>&1 | head -20"], edit)
    r = b / "rootfs"
    os.rmdir(r / "dev")
    os.symlink(str(outside), r / "dev")
    return b, outside


@pytest.mark.parametrize("variant", ["no-dev-mount", "tmpfs", "devices"])
def test_dev_symlink_does_not_populate_host_dir(rt, make_bundle, tmp_path, variant):
    b, outside = devlink_bundle(make_bundle, tmp_path, variant)
    before = tree(outside)
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert tree(outside) == before, "the host directory changed: %s" % sorted(
        os.listdir(outside))
    if r.returncode != 0:
        assert rt.ids() == []
    elif variant == "tmpfs":
        # the tmpfs went inside the rootfs, at the link's target
        assert (b / "rootfs" / str(outside).lstrip("/")).is_dir()


def test_dev_symlink_weakened_build_is_caught(rt, make_bundle, tmp_path):
    """With host-side path resolution (weakened paths), /dev is populated
    in the host directory: the test above would fail."""
    b, outside = devlink_bundle(make_bundle, tmp_path, "no-dev-mount")
    before = tree(outside)
    mark = (outside / "ptmx").read_text()
    try:
        rt.cmd("run", "--bundle", b, unique_id(), env=weak_env("paths"))
        after = tree(outside)
        assert after != before, "the weakened runtime left the host directory alone"
        assert "null" in after or after.get("ptmx") != before["ptmx"], sorted(after)
    finally:
        # restore the host directory exactly
        for name in os.listdir(outside):
            p = outside / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        (outside / "ptmx").write_text(mark)
        os.utime(outside / "ptmx", ns=(before["ptmx"][3], before["ptmx"][3]))
    assert tree(outside) == before
