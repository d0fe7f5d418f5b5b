"""checkpoint and restore through CRIU (the VM lane: `tests/vm/run`).

A counter container is checkpointed (it is gone afterwards), restored and
counts on from where it stopped, with its bind mount and tmpfs; with
--leave-running it keeps running and its image restores under a new id
(createRuntime hooks run at restore); failures are one line and leave no
state. Rootful podman checkpoints and restores a counter container with
pyrunc as its runtime (systemd's cgroup manager where systemd runs).
Skipped, before anything is made, where CRIU cannot work: no criu binary,
or `criu check` fails (on the development host's kernel CRIU stops at the
vDSO); the podman test also where podman is missing.
"""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import unique_id, wait_for


def _criu_works():
    if os.geteuid() != 0:
        return False
    criu = shutil.which("criu", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not criu:
        return False
    try:
        return subprocess.run([criu, "check"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [
    pytest.mark.skipif(not _criu_works(), reason="needs root and a working CRIU "
                       "(`criu check`; tests/vm/run)"),
]

# The count is written to a side file and renamed into place: `echo > cnt`
# truncates before it writes, and a read (or a checkpoint) in between would
# see an empty file.
COUNTER = ("sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/cnt.new; "
           "mv /tmp/cnt.new /tmp/cnt; sleep 0.3; done")


@pytest.fixture(autouse=True, scope="module")
def _modules():
    # CRIU locks a container's network with iptables (nf_tables here)
    for m in ("nf_tables", "nft_compat", "ip_tables", "iptable_filter", "ip6_tables",
              "ip6table_filter", "unix_diag", "inet_diag", "tcp_diag", "netlink_diag"):
        subprocess.run(["modprobe", "-q", m], stderr=subprocess.DEVNULL)


def detached(rt, tmp_path, *args):
    """run -d / restore -d with /dev/null as stdio: a detached container
    keeps the stdio it is given, and CRIU restores a caller's regular file
    (rt.cmd's temporary files) only where the container can see it. The
    one-line error goes to --log. Returns (exit status, log text)."""
    from conftest import PYRUNC
    log = tmp_path / "pyrunc.log"
    if log.exists():
        log.unlink()
    p = subprocess.run(PYRUNC + ["--root", rt.root, "--log", str(log)] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=300)
    return p.returncode, (log.read_text() if log.exists() else "")


def counter_bundle(make_bundle, edit=None):
    """The counter writes /tmp/cnt in its rootfs (read here from the host)."""
    def ed(c):
        c["root"]["readonly"] = False
        if edit:
            edit(c)
    return make_bundle(COUNTER, ed)


def count(b):
    try:
        return int((b / "rootfs" / "tmp" / "cnt").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def test_checkpoint_restore_counter_with_bind_and_tmpfs(rt, make_bundle, tmp_path):
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "f").write_text("from the host\n")

    def edit(c):
        c["mounts"].append({"destination": "/data", "type": "bind", "source": str(host),
                            "options": ["rbind", "rw"]})
        c["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                            "options": ["size=1m"]})
    b = counter_bundle(make_bundle, edit)
    cid = unique_id("ck")
    assert detached(rt, tmp_path, "run", "-d", "--bundle", b, cid)[0] == 0
    assert wait_for(lambda: count(b) >= 3, timeout=60)
    rt.ok("exec", cid, "sh", "-c", "echo in-tmpfs > /scratch/x")
    cg = "/sys/fs/cgroup" + json.loads((b / "config.json").read_text())["linux"]["cgroupsPath"]
    img = tmp_path / "img"
    r = rt.cmd("checkpoint", "--image-path", img, "--work-path", tmp_path / "work", cid,
               timeout=300)
    assert r.returncode == 0, r.stderr
    # gone: no state, no cgroup, no counting
    assert cid not in rt.ids()
    assert not os.path.exists(cg)
    v0 = count(b)
    time.sleep(1.5)
    assert count(b) == v0
    assert (img / "inventory.img").exists()
    pidfile = tmp_path / "pid"
    rc, err = detached(rt, tmp_path, "restore", "-d", "--image-path", img, "--work-path",
                       tmp_path / "work2", "--bundle", b, "--pid-file", pidfile, cid)
    assert rc == 0, err
    st = rt.state(cid)
    assert st["status"] == "running" and st["pid"] == int(pidfile.read_text())
    assert open("/proc/%d/cgroup" % st["pid"]).read().strip().endswith(
        json.loads((b / "config.json").read_text())["linux"]["cgroupsPath"])
    # counts on from where it stopped (not from 1)
    first = count(b)
    assert first >= v0
    assert wait_for(lambda: count(b) >= v0 + 3, timeout=60), (v0, count(b))
    r = rt.ok("exec", cid, "cat", "/scratch/x", "/data/f")
    assert r.stdout == "in-tmpfs\nfrom the host\n"
    rt.ok("delete", "--force", cid)
    assert not os.path.exists(cg)


def test_leave_running_then_restore_with_new_id_and_hooks(rt, make_bundle, tmp_path):
    b = counter_bundle(make_bundle)
    cid = unique_id("ck")
    assert detached(rt, tmp_path, "run", "-d", "--bundle", b, cid)[0] == 0
    assert wait_for(lambda: count(b) >= 2, timeout=60)
    img = tmp_path / "img"
    r = rt.cmd("checkpoint", "--leave-running", "--image-path", img, cid, timeout=300)
    assert r.returncode == 0, r.stderr
    assert rt.state(cid)["status"] == "running"
    v = count(b)
    assert wait_for(lambda: count(b) > v, timeout=60)
    rt.ok("delete", "--force", cid)
    v0 = count(b)
    # a new id, a hook that records the state it was given
    hook_out = tmp_path / "hook.json"
    cfg = json.loads((b / "config.json").read_text())
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/sh",
                                       "args": ["sh", "-c", "cat > %s" % hook_out]}]}
    (b / "config.json").write_text(json.dumps(cfg))
    new = unique_id("ck2")
    rc, err = detached(rt, tmp_path, "restore", "--detach", "--image-path", img,
                       "--bundle", b, new)
    assert rc == 0, err
    st = rt.state(new)
    assert st["id"] == new and st["status"] == "running"
    hook = json.loads(hook_out.read_text())
    assert hook["id"] == new and hook["pid"] == st["pid"]
    assert wait_for(lambda: count(b) >= v0 + 2, timeout=60)
    assert cid not in rt.ids()
    rt.ok("delete", "--force", new)


def test_failures_are_one_line_and_leave_nothing(rt, make_bundle, tmp_path):
    def one_line_error(r):
        assert r.returncode == 1, (r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pyrunc: "), r.stderr
        return lines[0]

    b = counter_bundle(make_bundle)
    cfg_path = json.loads((b / "config.json").read_text())["linux"]["cgroupsPath"]
    cg = "/sys/fs/cgroup" + cfg_path
    # no image
    e = one_line_error(rt.cmd("restore", "-d", "--image-path", tmp_path / "none",
                              "--bundle", b, unique_id()))
    assert "no checkpoint image" in e
    assert rt.ids() == []
    # no such container
    e = one_line_error(rt.cmd("checkpoint", "--image-path", tmp_path / "x", unique_id()))
    assert "does not exist" in e
    # a created (not started) container is not checkpointed, and stays
    cid = unique_id("ck")
    assert detached(rt, tmp_path, "create", "--bundle", b, cid)[0] == 0
    e = one_line_error(rt.cmd("checkpoint", "--image-path", tmp_path / "x", cid))
    assert "not running" in e
    assert rt.state(cid)["status"] == "created"
    rt.ok("start", cid)
    assert wait_for(lambda: count(b) >= 2, timeout=60)
    img = tmp_path / "img"
    rt.ok("checkpoint", "--leave-running", "--image-path", img, cid, timeout=300)
    # the id is taken
    e = one_line_error(rt.cmd("restore", "-d", "--image-path", img, "--bundle", b, cid))
    assert "already exists" in e
    rt.ok("delete", "--force", cid)
    # a bad mode
    e = one_line_error(rt.cmd("restore", "-d", "--image-path", img, "--bundle", b,
                              "--manage-cgroups-mode", "bogus", unique_id()))
    assert "manage-cgroups-mode" in e
    # CRIU itself fails: the image has an external bind mount whose source
    # is gone by the time of the restore
    src = tmp_path / "src"
    src.mkdir()

    def edit(c):
        c["mounts"].append({"destination": "/data", "type": "bind", "source": str(src),
                            "options": ["rbind"]})
    b2 = counter_bundle(make_bundle, edit)
    cid2 = unique_id("ck")
    assert detached(rt, tmp_path, "run", "-d", "--bundle", b2, cid2)[0] == 0
    img2 = tmp_path / "img2"
    rt.ok("checkpoint", "--image-path", img2, cid2, timeout=300)
    src.rmdir()
    cg2 = "/sys/fs/cgroup" + json.loads((b2 / "config.json").read_text())["linux"]["cgroupsPath"]
    new = unique_id("ck")
    e = one_line_error(rt.cmd("restore", "-d", "--image-path", img2, "--bundle", b2, new,
                              timeout=300))
    assert "criu restore failed" in e and "restore.log" in e
    assert rt.ids() == []
    assert not os.path.exists(cg) and not os.path.exists(cg2)


def test_features_lists_checkpoint(rt):
    f = json.loads(rt.ok("features").stdout)
    ann = f["annotations"]
    assert ann["org.opencontainers.runc.checkpoint.enabled"] == "true"
    assert "leave-running" in ann["org.opencontainers.runtime-spec.features.pyrunc.checkpoint"]


# --- podman ------------------------------------------------------------------

def _umount_below(top):
    """Unmount what podman's storage left mounted below top (deepest first)."""
    mps = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == top or mp.startswith(top + "/"):
                mps.append(mp)
    for mp in sorted(set(mps), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)


@pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman")
def test_podman_checkpoint_restore_counter(base_rootfs, tmp_path):
    """`podman container checkpoint` stops the container (CRIU's images in
    podman's userdata), `podman container restore` brings it back: the
    counter goes on from the checkpointed value (it is never lower, so the
    process was not started again), in the container's own cgroup; then
    checkpoint --export and restore --import --name (a new container)."""
    import tempfile
    from conftest import PYRUNC
    runtime = PYRUNC[0] if len(PYRUNC) == 1 else None
    if runtime is None:
        runtime = str(tmp_path / "pyrunc")
        with open(runtime, "w") as f:
            f.write("#!/bin/sh\nexec %s \"$@\"\n" % " ".join(PYRUNC))
        os.chmod(runtime, 0o755)
    systemd = os.path.isdir("/run/systemd/system")
    # podman's storage on a short path: conmon's sockets live below --runroot
    base = tempfile.mkdtemp(prefix="pm-", dir="/tmp")
    data = os.path.join(base, "data")
    os.mkdir(data)
    podman = ["podman", "--root", base + "/root", "--runroot", base + "/run",
              "--tmpdir", base + "/tmp", "--runtime", runtime,
              "--cgroup-manager", "systemd" if systemd else "cgroupfs",
              "--events-backend", "file"]

    def pm(*args, timeout=300):
        p = subprocess.run(podman + [str(a) for a in args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        assert p.returncode == 0, "podman %s: %s%s" % (" ".join(map(str, args)),
                                                       p.stdout, p.stderr)
        return p.stdout.strip()

    def cnt():
        try:
            return int(open(os.path.join(data, "cnt")).read().strip() or 0)
        except (OSError, ValueError):
            return 0

    name = unique_id("pmck")
    try:
        tar = tmp_path / "rootfs.tar"
        subprocess.run(["tar", "-C", str(base_rootfs), "-cf", str(tar), "."], check=True)
        pm("import", "-q", tar, "localhost/pyrunc-ckpt")
        pm("run", "-d", "--name", name, "--network", "none", "-v", data + ":/data",
           "localhost/pyrunc-ckpt", "sh", "-c",
           "i=0; while true; do i=$((i+1)); echo $i > /data/cnt.new; "
           "mv /data/cnt.new /data/cnt; sleep 0.3; done")
        cid = pm("inspect", "-f", "{{.Id}}", name)
        assert wait_for(lambda: cnt() >= 3, timeout=60)

        pm("container", "checkpoint", name)
        assert pm("inspect", "-f", "{{.State.Status}}", name) == "exited"
        assert cid not in subprocess.run(PYRUNC + ["list", "-q"], capture_output=True,
                                         text=True).stdout.split()
        v0 = cnt()
        time.sleep(1.5)
        assert cnt() == v0 >= 3

        def counts_on(n, v):
            """n runs in its own cgroup and counts on from v: a counter
            started again would write 1 within 0.3 s."""
            assert pm("inspect", "-f", "{{.State.Status}}", n) == "running"
            c = pm("inspect", "-f", "{{.Id}}", n)
            pid = int(pm("inspect", "-f", "{{.State.Pid}}", n))
            cg = open("/proc/%d/cgroup" % pid).read().strip()
            if systemd:
                assert cg.endswith("/libpod-%s.scope" % c), cg
            else:
                assert c in cg, cg
            seen = []
            end = time.monotonic() + 60
            while time.monotonic() < end and (not seen or seen[-1] < v + 3):
                seen.append(cnt())
                time.sleep(0.05)
            assert min(seen) >= v and seen[-1] >= v + 3, (v, seen[:5], seen[-5:])

        pm("container", "restore", name)
        counts_on(name, v0)

        # exported and restored as a new container: a new id and a fresh
        # rootfs (restore makes the mountpoints, /etc/hosts and the like)
        export = tmp_path / "export.tar.gz"
        pm("container", "checkpoint", "--export", export, name)
        assert pm("inspect", "-f", "{{.State.Status}}", name) == "exited"
        v1 = cnt()
        assert v1 >= v0 + 3
        name2 = unique_id("pmck")
        pm("container", "restore", "--import", export, "--name", name2)
        assert pm("inspect", "-f", "{{.Id}}", name2) != cid
        counts_on(name2, v1)

        pm("rm", "-f", "-t", "0", name, name2)
        assert pm("ps", "-a", "-q") == ""
        if systemd:
            assert not os.path.exists("/sys/fs/cgroup/machine.slice/libpod-%s.scope" % cid)
    finally:
        subprocess.run(podman + ["rm", "-f", "-t", "0", "--all"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=300)
        _umount_below(base)
        shutil.rmtree(base, ignore_errors=True)
