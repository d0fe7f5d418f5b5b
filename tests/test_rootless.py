"""Rootless: pyrunc run by an unprivileged user (with subuid/subgid ranges,
as every desktop distribution sets up for rootless podman), alone and as
rootless podman's runtime.

The suite makes the user (pyrunc-rl) and, since a venv of root's may sit
where other users cannot reach, a world-readable copy of the installed
pyrunc package run by the system's python3 (Debian's python3-cffi-backend
gives it _cffi_backend).
"""
import json
import os
import pwd
import shutil
import subprocess

import pytest

from conftest import unique_id

USER = "pyrunc-rl"
SYSTEM_PYTHON = "/usr/bin/python3"


def _sh(args, **kw):
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=kw.pop("timeout", 120), **kw)


@pytest.fixture(scope="module")
def user():
    """The unprivileged test user, with a subordinate id range."""
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        r = _sh(["useradd", "-m", "-s", "/bin/sh", USER])
        assert r.returncode == 0, r.stderr
        pw = pwd.getpwnam(USER)
    for f, flag in (("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")):
        have = open(f).read() if os.path.exists(f) else ""
        if not any(line.split(":")[0] == USER for line in have.splitlines()):
            r = _sh(["usermod", flag, "300000-365535", USER])
            assert r.returncode == 0, r.stderr
    return pw


def _subid(path):
    for line in open(path):
        name, start, count = line.strip().split(":")
        if name == USER:
            return int(start), int(count)
    raise AssertionError("no %s range for %s" % (path, USER))


@pytest.fixture(scope="module")
def home(user, tmp_path_factory):
    """A world-readable dir with the pyrunc copy, its launcher, the user's
    XDG_RUNTIME_DIR and a busybox rootfs the user owns."""
    import pyrunc
    d = tmp_path_factory.mktemp("rootless")
    for p in [d] + list(d.parents):
        if str(p) in ("/", "/tmp", "/var/tmp"):
            break
        os.chmod(p, os.stat(p).st_mode | 0o755)
    lib = d / "lib"
    shutil.copytree(os.path.dirname(pyrunc.__file__), lib / "pyrunc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    launcher = d / "pyrunc"
    launcher.write_text("#!/bin/sh\nPYTHONPATH=%s exec %s -m pyrunc \"$@\"\n"
                        % (lib, SYSTEM_PYTHON))
    launcher.chmod(0o755)
    xdg = d / "xdg"
    xdg.mkdir(mode=0o700)
    os.chown(xdg, user.pw_uid, user.pw_gid)
    yield d
    # podman's per-user pause process (kept between its calls)
    _as_user(user, d, "podman system migrate >/dev/null 2>&1; "
             "kill $(cat /tmp/podman-run-%d/libpod/tmp/pause.pid 2>/dev/null) "
             "2>/dev/null; true" % user.pw_uid)


def _as_user(user, home, script, timeout=120, cgroup=None):
    env = {"PATH": "%s:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" % home,
           "HOME": user.pw_dir, "USER": USER, "LOGNAME": USER,
           "XDG_RUNTIME_DIR": str(home / "xdg")}
    return subprocess.run(["setpriv", "--reuid", str(user.pw_uid), "--regid",
                           str(user.pw_gid), "--init-groups", "--reset-env", "sh", "-c",
                           " ".join("%s=%s" % kv for kv in env.items()) + " ; export PATH "
                           "HOME USER LOGNAME XDG_RUNTIME_DIR; cd %s && %s" % (home, script)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=cgroup and (lambda: _join(cgroup)))


def _join(cgroup):
    with open(cgroup + "/cgroup.procs", "w") as f:
        f.write(str(os.getpid()))


@pytest.fixture
def bundle(user, home, base_rootfs):
    b = home / unique_id("b")
    shutil.copytree(base_rootfs, b / "rootfs", symlinks=True)
    subprocess.run(["chown", "-R", "%d:%d" % (user.pw_uid, user.pw_gid), str(b)], check=True)
    r = _as_user(user, home, "cd %s && pyrunc spec --rootless" % b)
    assert r.returncode == 0, r.stderr
    yield b
    shutil.rmtree(b, ignore_errors=True)


def _edit(b, fn):
    p = b / "config.json"
    c = json.loads(p.read_text())
    fn(c)
    p.write_text(json.dumps(c))


def test_spec_rootless_is_runcs_kind(user, home, bundle):
    c = json.loads((bundle / "config.json").read_text())
    lx = c["linux"]
    types = [n["type"] for n in lx["namespaces"]]
    assert "user" in types and "network" not in types
    assert lx["uidMappings"] == [{"containerID": 0, "hostID": user.pw_uid, "size": 1}]
    assert lx["gidMappings"] == [{"containerID": 0, "hostID": user.pw_gid, "size": 1}]
    assert "resources" not in lx
    sysm = [m for m in c["mounts"] if m["destination"] == "/sys"][0]
    assert sysm["type"] == "none" and "rbind" in sysm["options"]


def test_a_user_runs_a_spec_rootless_bundle(user, home, bundle):
    """uid 0 inside, the user's own id mapped; state under $XDG_RUNTIME_DIR;
    no cgroup made; every capability of the spec granted in the user ns
    (no warning); default devices are the host's, bound."""
    def edit(c):
        c["process"]["terminal"] = False
        c["process"]["args"] = ["sh", "-c", "id -u; cat /proc/self/uid_map; "
                                "grep CapEff /proc/self/status; ls -l /dev/null"]
    _edit(bundle, edit)
    cid = unique_id("rl")
    r = _as_user(user, home, "pyrunc run --bundle %s %s" % (bundle, cid))
    assert r.returncode == 0, r.stderr
    assert "not granted" not in r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "0"
    assert out[1].split() == ["0", str(user.pw_uid), "1"]
    assert int(out[2].split()[1], 16) == 0x20000420     # KILL, NET_BIND_SERVICE, AUDIT_WRITE
    assert out[3].startswith("c")
    assert not (home / "xdg" / "pyrunc" / cid).exists()        # run deleted it
    assert (home / "xdg" / "pyrunc").is_dir()
    for ctrl in ("memory", "pids", "cpu"):
        assert not os.path.exists("/sys/fs/cgroup/%s/pyrunc/%s" % (ctrl, cid))


def test_a_users_plan_says_devices_are_bound_and_no_cgroup(user, home, bundle):
    """`pyrunc plan` as the user: device nodes bound from the host, every
    capability granted inside the user namespace, the caller's cgroup kept
    where the user may make none, and nothing made (no state dir)."""
    cid = unique_id("rl")
    r = _as_user(user, home, "pyrunc plan --format json --bundle %s %s" % (bundle, cid))
    assert r.returncode == 0, r.stdout + r.stderr
    plan = json.loads(r.stdout)
    assert plan["problems"] == []
    assert {d["how"] for d in plan["devices"]} == {"bind mount of the host's node"}
    assert plan["capabilities"]["notGranted"] == []
    if os.path.isdir("/sys/fs/cgroup/memory"):      # v1: root's alone, no delegation
        assert any("stays in the caller's cgroup" in w for w in plan["cgroup"]["warnings"]), \
            plan["cgroup"]
    assert not (home / "xdg" / "pyrunc" / cid).exists()


def test_wider_maps_through_newuidmap_and_the_lifecycle(user, home, bundle):
    """A map wider than the user's own id needs newuidmap/newgidmap (subuid);
    run -d, state, exec as another mapped user, kill, delete."""
    start, _count = _subid("/etc/subuid")
    gstart, _gcount = _subid("/etc/subgid")

    def edit(c):
        c["process"]["terminal"] = False
        c["process"]["args"] = ["sleep", "300"]
        c["linux"]["uidMappings"].append({"containerID": 1, "hostID": start, "size": 1000})
        c["linux"]["gidMappings"].append({"containerID": 1, "hostID": gstart, "size": 1000})
    _edit(bundle, edit)
    cid = unique_id("rl")
    # the detached container keeps the stdio it was given: files, not pipes
    r = _as_user(user, home, "pyrunc run -d --bundle %s %s >/dev/null 2>%s/err; rc=$?; "
                 "cat %s/err >&2; exit $rc" % (bundle, cid, bundle, bundle))
    try:
        assert r.returncode == 0, r.stderr
        st = json.loads(_as_user(user, home, "pyrunc state %s" % cid).stdout)
        assert st["status"] == "running"
        r = _as_user(user, home, "pyrunc list")
        assert r.stdout.split("\n")[1].split()[-1] == USER        # runc's OWNER
        r = _as_user(user, home, "pyrunc pause %s" % cid)
        assert r.returncode == 1 and "no cgroup" in r.stderr
        with open("/proc/%d/uid_map" % st["pid"]) as f:
            rows = [line.split() for line in f]
        assert ["1", str(start), "1000"] in rows
        r = _as_user(user, home, "pyrunc exec --user 100:100 %s id" % cid)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("uid=100 gid=100")
        r = _as_user(user, home, "pyrunc exec %s grep CapEff /proc/self/status" % cid)
        assert r.returncode == 0 and "not granted" not in r.stderr, r.stderr
        assert int(r.stdout.split()[1], 16) == 0x20000420   # the spec's, in its user ns
        r = _as_user(user, home, "pyrunc kill %s KILL" % cid)
        assert r.returncode == 0, r.stderr
    finally:
        r = _as_user(user, home, "pyrunc delete --force %s" % cid)
    assert r.returncode == 0, r.stderr
    assert not (home / "xdg" / "pyrunc" / cid).exists()


def test_rootless_limits_without_a_cgroup_are_an_error(user, home, bundle):
    """runc's rule: no cgroup is fine only when none is asked for."""
    def edit(c):
        c["process"]["terminal"] = False
        c["process"]["args"] = ["true"]
        c["linux"]["resources"] = {"pids": {"limit": 10}}
    _edit(bundle, edit)
    cid = unique_id("rl")
    r = _as_user(user, home, "pyrunc run --bundle %s %s" % (bundle, cid))
    assert r.returncode != 0
    assert len(r.stderr.strip().splitlines()) == 1 and "permission denied" in r.stderr
    assert not (home / "xdg" / "pyrunc" / cid).exists()


@pytest.fixture(scope="module")
def podman_image(user, home, base_rootfs):
    if shutil.which("podman") is None:
        pytest.fail("podman is missing: .ci/install installs it")
    tar = home / "rootfs.tar"
    subprocess.run(["tar", "-C", str(base_rootfs), "-cf", str(tar), "."], check=True)
    os.chmod(tar, 0o644)
    r = _as_user(user, home, "podman import -q %s localhost/pyrunc-busybox" % tar, timeout=300)
    assert r.returncode == 0, r.stderr
    return "localhost/pyrunc-busybox"


def _podman(user, home, args, timeout=180):
    return _as_user(user, home, "podman --runtime %s %s" % (home / "pyrunc", args),
                    timeout=timeout)


def test_rootless_podman_runs_execs_and_stops(user, home, podman_image):
    cache = os.path.join(user.pw_dir, ".cache", "pyrunc")
    shutil.rmtree(cache, ignore_errors=True)
    r = _podman(user, home, "run --rm --network none %s sh -c 'id -u; echo hi'" % podman_image)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "hi"]
    # podman's seccomp profile, compiled once: in the user's own cache
    # (pyrunc runs as root of podman's user namespace), the user's alone
    entries = [e for e in os.listdir(cache) if e.startswith("seccomp-")]
    assert len(entries) == 1, entries
    st = os.stat(os.path.join(cache, entries[0]))
    assert (st.st_uid, st.st_mode & 0o777) == (user.pw_uid, 0o600)
    name = unique_id("pm")
    r = _podman(user, home, "run -d --name %s --network none %s sleep 300"
                % (name, podman_image))
    assert r.returncode == 0, r.stderr
    try:
        # pyrunc is the runtime: its state, under podman's XDG_RUNTIME_DIR
        cid = _podman(user, home, "inspect -f '{{.Id}}' %s" % name).stdout.strip()
        st = json.loads((home / "xdg" / "pyrunc" / cid / "state.json").read_text())
        assert st["id"] == cid
        r = _podman(user, home, "exec %s sh -c 'echo in-$((6*7))'" % name)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "in-42"
        r = _podman(user, home, "ps --format '{{.Names}} {{.Status}}'")
        assert r.returncode == 0 and any(line.startswith(name + " Up")
                                         for line in r.stdout.splitlines()), r.stdout
        r = _podman(user, home, "stop -t 2 %s" % name)
        assert r.returncode == 0, r.stderr
        r = _podman(user, home, "inspect -f '{{.State.Status}}' %s" % name)
        assert r.stdout.strip() == "exited"
    finally:
        _podman(user, home, "rm -f %s" % name)


def test_sysfs_without_a_network_namespace_is_the_hosts_bound(user, home, bundle):
    """A user namespace owning no network namespace may not mount sysfs:
    pyrunc binds the host's /sys (read-only here), as runc does."""
    def edit(c):
        c["process"]["terminal"] = False
        c["process"]["args"] = ["sh", "-c", "awk '$5 == \"/sys\" {print $6}' "
                                "/proc/self/mountinfo; ls /sys/kernel >/dev/null && echo seen"]
        for m in c["mounts"]:
            if m["destination"] == "/sys":
                m.update(type="sysfs", source="sysfs", options=["nosuid", "noexec", "nodev", "ro"])
    _edit(bundle, edit)
    r = _as_user(user, home, "pyrunc run --bundle %s %s" % (bundle, unique_id("rl")))
    assert r.returncode == 0, r.stderr
    opts, seen = r.stdout.split()
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(opts.split(",")) and seen == "seen"


def _pure_v2():
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == "/sys/fs/cgroup" and " - cgroup2 " in line
                       for line in f)
    except OSError:
        return False


@pytest.mark.skipif(not _pure_v2(), reason="needs a pure cgroup v2 host (tests/vm/run)")
def test_a_delegated_cgroup_v2_subtree_is_used(user, home, bundle):
    """What systemd's user delegation gives: a v2 subtree the user owns, the
    user's own processes inside it. pyrunc makes the container's cgroup there
    and sets its limits; no device filter (an unprivileged user may not load
    one, and has the host's device nodes only)."""
    top = "/sys/fs/cgroup/" + unique_id("deleg")
    os.mkdir(top)
    try:
        for f in ("", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"):
            os.chown(top + f, user.pw_uid, user.pw_gid)
        with open("/sys/fs/cgroup/cgroup.subtree_control", "w") as f:
            f.write("+pids +memory")
        rel = top[len("/sys/fs/cgroup"):]

        def edit(c):
            c["process"]["terminal"] = False
            c["process"]["args"] = ["sh", "-c", "cat /proc/self/cgroup; "
                                    "cat /sys/fs/cgroup/pids.max"]
            c["linux"]["cgroupsPath"] = rel + "/ctr"
            c["linux"]["resources"] = {"pids": {"limit": 42}}
            if {"type": "cgroup"} not in c["linux"]["namespaces"]:
                c["linux"]["namespaces"].append({"type": "cgroup"})
            for m in c["mounts"]:
                if m["destination"] == "/sys":
                    m.update(type="sysfs", source="sysfs", options=["nosuid", "noexec", "nodev"])
            c["linux"]["namespaces"].append({"type": "network"})
            c["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                                "source": "cgroup", "options": ["nosuid", "noexec", "nodev"]})
        _edit(bundle, edit)
        # the user's processes start inside their subtree (as a login
        # session's are in user@UID.service)
        os.mkdir(top + "/shell")
        r = _as_user(user, home, "pyrunc run --bundle %s %s" % (bundle, unique_id("rl")),
                     cgroup=top + "/shell")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["0::/", "42"]
    finally:
        for d in ("/ctr", "/shell", ""):
            try:
                os.rmdir(top + d)
            except OSError:
                pass
