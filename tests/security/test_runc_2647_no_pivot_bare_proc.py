"""runc #2647 (no CVE id): with --no-pivot the host's mounts stay in the
container's mount namespace, below the chroot. A whole procfs among them
lets the kernel allow a fresh proc mount in a new user namespace inside the
container (such a mount is refused only where no unmasked one exists), and
that one has no masked paths: /proc/sysrq-trigger, /proc/sys writable.
pyrunc detaches (or covers) every full procfs and sysfs outside the rootfs
before the move.
"""
from secutil import unique_id


def test_no_pivot_leaves_no_full_proc_to_mount_again(rt, make_bundle):
    def edit(c):
        for s in ("bounding", "permitted", "effective"):
            c["process"]["capabilities"][s] += ["CAP_SETFCAP", "CAP_SYS_ADMIN"]
    script = ("unshare -mrpf sh -c 'mount -t proc none /proc && echo MOUNTED "
              "&& test -w /proc/sysrq-trigger && echo WRITABLE'; echo rc=$?")
    b = make_bundle(["sh", "-c", script], edit)
    r = rt.ok("run", "--no-pivot", "--bundle", b, unique_id())
    assert "MOUNTED" not in r.stdout and "WRITABLE" not in r.stdout, r.stdout + r.stderr
    assert "rc=" in r.stdout and "rc=0" not in r.stdout


def test_no_pivot_still_sees_its_own_proc_and_sys(rt, make_bundle):
    b = make_bundle(["sh", "-c", "cat /proc/self/stat >/dev/null && ls /sys/kernel >/dev/null "
                     "&& echo ok"])
    assert rt.ok("run", "--no-pivot", "--bundle", b, unique_id()).stdout == "ok\n"
