"""CVE-2021-30465: mount destinations that go through a symlink escaping
the rootfs (absolute `/../../../..<host dir>` or relative `../../..`), and
the symlink-exchange race on a shared volume.

Every mount must land inside the rootfs (the symlink resolved with the
rootfs as /), or create must fail closed; the host directory the link names
and the host's mount table must not change.
"""
import os

import pytest

from secutil import (attacker_bin, install_attacker, mountpoints, tree,  # noqa: F401
                     unique_id, wait_for, weak_env)


def escape_bundle(make_bundle, tmp_path, link, counterpart):
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "MARK").write_text("host\n")
    target = {"absolute": "/../../../../.." + str(host),
              "relative": "../../../../../../../../.." + str(host)}[link]

    def edit(c):
        c["mounts"].append({"destination": "/evil/m", "type": "tmpfs", "source": "tmpfs",
                            "options": ["size=1m"]})
    b = make_bundle(["sh", "-c", "awk '$5 ~ /\\/m$/ {print $5, $9}' /proc/self/mountinfo; "
                     "ls /evil"], edit)
    r = b / "rootfs"
    os.symlink(target, r / "evil")
    inside = r / str(host).lstrip("/")
    if counterpart:
        inside.mkdir(parents=True)
    return b, host, inside


@pytest.mark.parametrize("counterpart", [True, False], ids=["in-rootfs-target", "no-target"])
@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_mount_destination_through_escaping_symlink_stays_in_rootfs(rt, make_bundle, tmp_path,
                                                                    link, counterpart):
    b, host, inside = escape_bundle(make_bundle, tmp_path, link, counterpart)
    before = tree(host)
    mounts_before = mountpoints()
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert tree(host) == before, "the host directory changed"
    assert mountpoints() == mounts_before
    if counterpart:
        # the link resolves inside the rootfs: the mount is made there
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert "%s/m tmpfs" % host in lines, lines
        assert "MARK" not in lines
        assert (inside / "m").is_dir()
    else:
        assert r.returncode == 0 or rt.ids() == []
        if r.returncode == 0:
            assert "MARK" not in r.stdout.splitlines()


def test_mount_destination_through_escaping_symlink_weakened_build_is_caught(
        rt, make_bundle, tmp_path):
    """With host-side string resolution (weakened paths), the mount point is
    created in the host directory: the check above would fail."""
    b, host, _inside = escape_bundle(make_bundle, tmp_path, "absolute", False)
    before = tree(host)
    try:
        rt.cmd("run", "--bundle", b, unique_id(), env=weak_env("paths"))
        assert tree(host) != before and (host / "m").is_dir(), \
            "the weakened runtime did not write to the host directory"
    finally:
        if (host / "m").is_dir():
            os.rmdir(host / "m")
    assert tree(host) == before


RACE_MOUNTS = 8
RACE_RUNS = 30


def test_symlink_exchange_race_on_shared_volume(rt, make_bundle, attacker_bin, tmp_path):
    """A (the attacker) shares a host volume with B and keeps exchanging
    /vol/d, a directory, with /vol/l, a symlink to / (renameat2
    RENAME_EXCHANGE in a loop: `attacker flip`), while B, which mounts tmpfs
    instances at /vol/d/m<i>, is created again and again. Every mount of
    every B must be visible in B's own mount table (so it is under B's
    root), and the host's / and mount table must not change."""
    vol = tmp_path / "vol"
    (vol / "d").mkdir(parents=True)
    os.symlink("/", vol / "l")
    a = make_bundle(["attacker", "flip", "/vol/d", "/vol/l", "/vol/stop"],
                    lambda c: c["mounts"].append({"destination": "/vol", "type": "bind",
                                                  "source": str(vol), "options": ["rbind"]}))
    install_attacker(a, attacker_bin)

    def victim(c):
        c["mounts"].append({"destination": "/vol", "type": "bind", "source": str(vol),
                            "options": ["rbind"]})
        for i in range(RACE_MOUNTS):
            c["mounts"].append({"destination": "/vol/d/m%d" % i, "type": "tmpfs",
                                "source": "tmpfs", "options": ["size=64k"]})
    vb = make_bundle(["cat", "/proc/self/mountinfo"], victim)
    host_root = set(os.listdir("/"))
    mounts_before = mountpoints()
    aid = unique_id("flip")
    rt.ok("run", "-d", "--bundle", a, aid)
    ok = failed = 0
    try:
        assert wait_for(lambda: os.path.islink(vol / "d"), 5), "the attacker does not flip"
        for _ in range(RACE_RUNS):
            r = rt.cmd("run", "--bundle", vb, unique_id("victim"))
            if r.returncode != 0:
                failed += 1
                assert rt.ids() == [aid], "a failed create left state"
                continue
            ok += 1
            ours = [l.split()[4] for l in r.stdout.splitlines()
                    if len(l.split()) > 4
                    and l.split()[4].rsplit("/", 1)[-1] in ["m%d" % i for i in range(RACE_MOUNTS)]
                    and " - tmpfs " in l]
            # each mount appears once per successful create, in B's own
            # mount table (so under B's root): through the directory
            # (/vol/d/m<i> or, once exchanged, /vol/l/m<i>) or, when /vol/d
            # was the symlink to / at that moment, at /m<i> of B's rootfs
            assert len(ours) == RACE_MOUNTS, r.stdout
            assert all(p.rsplit("/", 1)[0] in ("", "/vol/d", "/vol/l") for p in ours), ours
    finally:
        (vol / "stop").write_text("")
        rt.cmd("delete", "--force", aid)
    assert set(os.listdir("/")) == host_root, "the race created something in the host's /"
    assert mountpoints() == mounts_before
    assert ok > 0, "no victim container was created (%d failed)" % failed
