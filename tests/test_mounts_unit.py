"""Mount attribute logic against a recording fake of the syscall seam
(pyrunc.linux.sys.Syscalls): which calls, in which order, with which flags."""
import os

import pytest

from pyrunc.linux import mounts
from pyrunc.linux import sys as S


class Recorder:
    def __init__(self, has_setattr):
        self.has = has_setattr
        self.calls = []

    def has_mount_setattr(self):
        return self.has

    def mount_setattr(self, fd, path, flags, attr_set=0, attr_clr=0, propagation=0):
        self.calls.append(("mount_setattr", flags & S.AT_RECURSIVE, attr_set, attr_clr,
                           propagation))

    def move_mount(self, *a):
        self.calls.append(("move_mount",))

    def mount(self, source, target, fstype, flags, data=None):
        self.calls.append(("mount", target, os.getcwd(), flags))


@pytest.fixture
def dirfd(tmp_path):
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    yield fd, str(tmp_path)
    os.close(fd)


def test_attributes_before_attach_with_mount_setattr(dirfd):
    fd, _ = dirfd
    rec = Recorder(True)
    o = mounts.parse_options(["bind", "ro", "nosuid", "rnodev"])
    mounts.attach(rec, fd, fd, o)
    assert rec.calls == [
        ("mount_setattr", 0, S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NOSUID, 0, 0),
        ("mount_setattr", S.AT_RECURSIVE, S.MOUNT_ATTR_NODEV, 0, 0),
        ("move_mount",)]


def test_before_5_12_a_remount_after_attach_through_the_mount_root(dirfd):
    fd, path = dirfd
    rec = Recorder(False)
    here = os.getcwd()
    o = mounts.parse_options(["bind", "ro", "noexec"])
    mounts.attach(rec, fd, fd, o)
    assert rec.calls[0] == ("move_mount",)
    name, target, cwd, flags = rec.calls[1]
    assert (name, target, cwd) == ("mount", ".", path)      # fchdir'd to the mount root
    assert flags & (S.MS_REMOUNT | S.MS_BIND | S.MS_RDONLY | S.MS_NOEXEC) == \
        S.MS_REMOUNT | S.MS_BIND | S.MS_RDONLY | S.MS_NOEXEC
    assert os.getcwd() == here                              # and back


def test_remount_flags_keep_what_is_not_changed():
    cur = S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NOSUID | S.MOUNT_ATTR_STRICTATIME
    f = mounts.remount_flags(cur, S.MOUNT_ATTR_NODEV, S.MOUNT_ATTR_RDONLY)
    assert f == S.MS_REMOUNT | S.MS_BIND | S.MS_NOSUID | S.MS_NODEV | S.MS_STRICTATIME
    # the atime group changes as a whole
    f = mounts.remount_flags(cur, S.MOUNT_ATTR_NOATIME, S.MOUNT_ATTR__ATIME)
    assert f & (S.MS_NOATIME | S.MS_STRICTATIME | S.MS_RELATIME) == S.MS_NOATIME
    f = mounts.remount_flags(0, 0, 0)
    assert f == S.MS_REMOUNT | S.MS_BIND | S.MS_RELATIME


def test_propagation_before_5_12_is_mount2_with_ms_rec(dirfd):
    fd, _ = dirfd
    rec = Recorder(False)
    mounts.set_propagation(rec, fd, [(S.MS_PRIVATE, True), (S.MS_SHARED, False)])
    assert [c[3] for c in rec.calls] == [S.MS_PRIVATE | S.MS_REC, S.MS_SHARED]


def test_mountinfo_fields_unescape_octal_without_re():
    from pyrunc.linux import procfs
    assert procfs.unescape("/plain/path") == "/plain/path"
    assert procfs.unescape(r"/a\040b\011c\012d") == "/a b\tc\nd"
    assert procfs.unescape(r"/back\134slash\134040") == "/back\\slash\\040"
    assert procfs.unescape("/odd\\9xy\\") == "/odd\\9xy\\"


def test_atime_options_replace_the_atime_group_as_mount8():
    from pyrunc.linux import mounts as M
    from pyrunc.linux import sys as S
    o = M.parse_options(["bind", "nodiratime"])          # + the default mode
    assert o.attr_set & S.MOUNT_ATTR__ATIME == S.MOUNT_ATTR_RELATIME
    assert o.attr_set & S.MOUNT_ATTR_NODIRATIME and o.attr_clr & S.MOUNT_ATTR__ATIME
    o = M.parse_options(["bind", "strictatime"])         # nodiratime goes too
    assert o.attr_set & S.MOUNT_ATTR__ATIME == S.MOUNT_ATTR_STRICTATIME
    assert o.attr_clr & S.MOUNT_ATTR_NODIRATIME
    o = M.parse_options(["bind", "nodiratime", "strictatime"])
    assert o.attr_set & S.MOUNT_ATTR_NODIRATIME and not o.attr_clr & S.MOUNT_ATTR_NODIRATIME
    assert o.attr_set & S.MOUNT_ATTR__ATIME == S.MOUNT_ATTR_STRICTATIME
    o = M.parse_options(["bind", "atime"])               # the naive clear changes nothing
    assert (o.attr_set, o.attr_clr) == (0, 0)
