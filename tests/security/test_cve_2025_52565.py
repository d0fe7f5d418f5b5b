"""CVE-2025-52565: /dev/console set up through attacker symlinks.

terminal:true with --console-socket and a hostile /dev (a bind of a host
directory, no /dev tmpfs): /dev/pts/ptmx, /dev/pts/<n> and /dev/ptmx are
symlinks to /proc/sysrq-trigger (and core_pattern), /dev/console a symlink
to a host marker path. Either create fails closed, or /dev/console is the
pty (major 136, a devpts mount), /proc/sysrq-trigger and core_pattern are
still read-only, and the marker path was not created on the host.

Also: `exec --tty` must not touch the container's /dev/console (runc
mounts the console for the container's init only).
"""
import os
import uuid

import pytest

from secutil import ConsoleServer, drop_mounts, unique_id, wait_for

TARGETS = ["/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern"]
SCRIPT = ("echo \"MAJOR $(stat -c %t /dev/console)\"; "
          "awk '$5 == \"/dev/console\" {print \"FSTYPE\", $9}' /proc/self/mountinfo; "
          "for p in " + " ".join(TARGETS) + "; do [ -e $p ] && echo \"W $p $(probe open $p w)\"; "
          "done; sleep 0.2")


def run_with_console(rt, bundle, tmp_path):
    """create (console socket), start, collect the pty output; returns
    (create result, output or None)."""
    srv = ConsoleServer(tmp_path / ("console-%s.sock" % uuid.uuid4().hex[:6]))
    cid = unique_id()
    try:
        r = rt.cmd("create", "--bundle", bundle, "--console-socket", srv.path, cid)
        if r.returncode != 0:
            return r, None
        rt.ok("start", cid)
        assert wait_for(lambda: srv.outputs, 10), "no output on the pty"
        return r, srv.outputs[0]
    finally:
        rt.cmd("delete", "--force", cid)
        srv.close()


def hostile_dev(tmp_path, target):
    dev = tmp_path / "hostdev"
    (dev / "pts").mkdir(parents=True)
    os.symlink(target, dev / "pts" / "ptmx")
    for n in range(8):
        os.symlink(target, dev / "pts" / str(n))
    os.symlink(target, dev / "ptmx")
    marker = "/tmp/rt-host-console-" + uuid.uuid4().hex[:12]
    os.symlink(marker, dev / "console")
    return dev, marker


@pytest.mark.parametrize("devpts", [False, True], ids=["no-devpts", "devpts"])
@pytest.mark.parametrize("target", TARGETS, ids=["sysrq", "core_pattern"])
def test_console_through_hostile_dev(rt, make_bundle, tmp_path, devpts, target):
    dev, marker = hostile_dev(tmp_path, target)

    def edit(c):
        c["process"]["terminal"] = True
        drop_mounts(c, "/dev")
        c["mounts"].append({"destination": "/dev", "type": "bind", "source": str(dev),
                            "options": ["rbind"]})
        if devpts:
            c["mounts"].append({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                            "mode=0620"]})
    b = make_bundle(["sh", "-c", SCRIPT], edit)
    try:
        r, out = run_with_console(rt, b, tmp_path)
        if out is None:
            assert r.returncode != 0 and rt.ids() == []
        else:
            lines = out.splitlines()
            assert "MAJOR 88" in lines, lines             # 136: a pty
            assert "FSTYPE devpts" in lines, lines
            for line in lines:
                if line.startswith("W "):
                    assert " ERR " in line, "writable after the console set-up: " + line
        assert not os.path.lexists(marker), "the runtime created %s on the host" % marker
    finally:
        if os.path.lexists(marker):
            os.unlink(marker)


def test_default_console_is_the_pty_and_proc_stays_readonly(rt, make_bundle, tmp_path):
    b = make_bundle(["sh", "-c", SCRIPT], lambda c: c["process"].update(terminal=True))
    r, out = run_with_console(rt, b, tmp_path)
    assert out is not None, r.stderr
    lines = out.splitlines()
    assert "MAJOR 88" in lines and "FSTYPE devpts" in lines, lines
    assert all(" ERR " in l for l in lines if l.startswith("W ")), lines


def test_exec_tty_does_not_remount_dev_console(rt, make_bundle, tmp_path):
    """Two `exec --tty` in a row both work, and the container's /dev/console
    mount is not replaced by (or left pointing at) an exec's pty."""
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    srv = ConsoleServer(tmp_path / "exec-console.sock")
    show = ["sh", "-c", "grep ' /dev/console ' /proc/self/mountinfo || echo none"]
    try:
        before = rt.ok("exec", cid, *show).stdout
        for _ in range(2):
            r = rt.cmd("exec", "--tty", "--console-socket", srv.path, cid, "true")
            assert r.returncode == 0, r.stderr
        after = rt.ok("exec", cid, *show).stdout
        assert after == before
    finally:
        srv.close()
        rt.cmd("delete", "--force", cid)
