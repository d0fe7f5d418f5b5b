"""Idmapped bind mounts (mounts[].uidMappings/gidMappings, "idmap",
"ridmap"), checked from inside real containers with and without a user
namespace (runc's idmap.bats)."""
import os
import subprocess

import pytest

from conftest import unique_id

USERNS = {"containerID": 0, "hostID": 100000, "size": 65536}


def tree(tmp_path):
    """src/ (foo.txt 100:211) with a host bind mount src/sub of other/
    (bar.txt 101:222)."""
    src, other = tmp_path / "src", tmp_path / "other"
    (src / "sub").mkdir(parents=True)
    other.mkdir()
    (src / "foo.txt").write_text("f")
    os.chown(src / "foo.txt", 100, 211)
    (other / "bar.txt").write_text("b")
    os.chown(other / "bar.txt", 101, 222)
    for d in (tmp_path, src, other):
        os.chmod(d, 0o755)
    subprocess.run(["mount", "--bind", str(other), str(src / "sub")], check=True)
    return src


@pytest.fixture
def src(tmp_path):
    s = tree(tmp_path)
    yield s
    subprocess.run(["umount", "-l", str(s / "sub")])


def bundle(make_bundle, src, options, userns=False, maps=None, args=None):
    def edit(c):
        m = {"destination": "/tmp/t", "type": "bind", "source": str(src), "options": options}
        if maps:
            m["uidMappings"], m["gidMappings"] = maps
        c["mounts"].append(m)
        if userns:
            c["linux"]["namespaces"].append({"type": "user"})
            c["linux"]["uidMappings"] = [dict(USERNS)]
            c["linux"]["gidMappings"] = [dict(USERNS)]
            c["mounts"] = [x for x in c["mounts"] if x["type"] not in ("cgroup", "sysfs")]
    return make_bundle(args or ["sh", "-c", "stat -c %u:%g /tmp/t/foo.txt /tmp/t/sub/bar.txt"],
                       edit)


def test_mount_mappings_without_a_user_namespace(rt, make_bundle, src, traversable):
    """0:100000: root's files show as 100000; the container's root is not
    mapped there, so it cannot create files (EOVERFLOW)."""
    (src / "root.txt").write_text("r")
    b = bundle(make_bundle, src, ["bind"], maps=([USERNS], [USERNS]),
               args=["sh", "-c", "stat -c %u:%g /tmp/t/root.txt; touch /tmp/t/new"])
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert r.stdout.split("\n")[0] == "100000:100000"
    assert "Value too large" in r.stdout + r.stderr and r.returncode != 0
    assert not (src / "new").exists()


def test_mount_mappings_in_a_user_namespace_are_not_recursive(rt, make_bundle, src,
                                                              traversable):
    maps = ([{"containerID": 100, "hostID": 101000, "size": 3}],
            [{"containerID": 211, "hostID": 101100, "size": 20}])
    out = rt.ok("run", "--bundle", bundle(make_bundle, src, ["rbind"], True, maps),
                unique_id()).stdout.split()
    assert out[0] == "1000:1100"                     # 101000 - 100000 in the container
    assert out[1] == "65534:65534"                   # the submount is not idmapped


@pytest.mark.parametrize("opt,sub", [("idmap", "65534:65534"), ("ridmap", "101:222")])
def test_idmap_options_take_the_containers_mapping(rt, make_bundle, src, traversable, opt, sub):
    """No mappings on the mount: the container's own; "ridmap" reaches the
    submounts too. Files show as their on-disk owners inside."""
    out = rt.ok("run", "--bundle", bundle(make_bundle, src, ["rbind", opt], True),
                unique_id()).stdout.split()
    assert out == ["100:211", sub]


def test_writes_through_an_idmapped_mount_land_as_the_host_id(rt, make_bundle, src,
                                                              traversable):
    b = bundle(make_bundle, src, ["rbind", "idmap"], True,
               args=["sh", "-c", "touch /tmp/t/new && stat -c %u:%g /tmp/t/new"])
    assert rt.ok("run", "--bundle", b, unique_id()).stdout.split() == ["0:0"]
    st = os.stat(src / "new")
    assert (st.st_uid, st.st_gid) == (0, 0)          # as mapped: container 0 -> disk 0


def test_idmap_needs_mappings_and_mount_setattr(rt, make_bundle, src, monkeypatch):
    r = rt.cmd("run", "--bundle", bundle(make_bundle, src, ["rbind", "idmap"]), unique_id())
    assert r.returncode == 1 and "idmap needs mappings" in r.stderr
    monkeypatch.setenv("PYRUNC_TEST_LACKS", "mount_setattr")
    r = rt.cmd("run", "--bundle", bundle(make_bundle, src, ["bind"], maps=([USERNS], [USERNS])),
               unique_id())
    assert r.returncode == 1 and "idmapped mounts need Linux 5.12" in r.stderr
    assert rt.ids() == []
