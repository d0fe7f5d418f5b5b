"""CVE-2019-5736: overwriting the host runtime through /proc/<pid>/exe.

For pyrunc the "runtime binary" is the host's Python interpreter (plus
libpython and the cffi shim). The container's init waits for `start` as
the init helper exec'd from a sealed memfd, and every exec'd process goes
through the same helper: no /proc/<pid>/exe a container process can reach
may be a host file, none may be opened for writing, and a `#!/proc/self/exe`
entrypoint must not run a host interpreter.
"""
import fcntl
import pytest
import os
import subprocess

from raceutil import attack_bundle, leaks, race, seen_pids
from secutil import (ALL_CAPS, PYRUNC, attacker_bin, host_python_files, read_log,  # noqa: F401
                     unique_id, wait_for, weak_env)

F_GET_SEALS = 1034
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 1, 2, 4, 8

# a script that, run by a host Python, would say so and leave a mark
EVIL = b"#!/proc/self/exe\nimport os\nprint('HOST-PYTHON-RAN')\nopen('/pwned', 'w').close()\n"


def test_created_init_exe_is_the_sealed_memfd(rt, make_bundle):
    """Host side: /proc/<init>/exe of a created container is the sealed
    memfd, not the interpreter, and cannot be opened for writing."""
    b = make_bundle(["true"])
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    pid = rt.state(cid)["pid"]
    exe = "/proc/%d/exe" % pid
    assert os.readlink(exe) == "/memfd:pyrunc-init (deleted)"
    st = os.stat(exe)
    assert (st.st_dev, st.st_ino) not in host_python_files()
    fd = os.open(exe, os.O_RDONLY | os.O_CLOEXEC)
    try:
        seals = fcntl.fcntl(fd, F_GET_SEALS)
    finally:
        os.close(fd)
    want = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
    assert seals & want == want, "helper memfd seals: %#x" % seals
    try:
        w = os.open(exe, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        w = None
    if w is not None:
        try:
            # the open may succeed on a sealed memfd; the write must not
            try:
                n = os.write(w, b"\0")
            except OSError:
                n = 0
            assert n == 0, "the init helper's image could be written"
        finally:
            os.close(w)
    rt.ok("delete", "--force", cid)


def _evil_rootfs(bundle):
    r = bundle / "rootfs"
    (r / "bin" / "evil").write_bytes(EVIL)
    os.chmod(r / "bin" / "evil", 0o755)
    return r


def test_proc_self_exe_shebang_entrypoint_does_not_run_host_interpreter(rt, make_bundle):
    b = make_bundle(["/bin/evil"])
    r = _evil_rootfs(b)
    res = rt.cmd("run", "--bundle", b, unique_id())
    assert "HOST-PYTHON-RAN" not in res.stdout + res.stderr
    assert not (r / "pwned").exists()
    # the interpreter named by the script is the sealed helper, which refuses
    assert res.returncode != 0


def test_proc_self_exe_shebang_exec_does_not_run_host_interpreter(rt, make_bundle):
    """`pyrunc exec` of an image's /bin/sh that is a `#!/proc/self/exe` script."""
    b = make_bundle(["probe", "sleep", "30"])
    r = _evil_rootfs(b)
    (r / "bin" / "sh").unlink()
    os.link(r / "bin" / "evil", r / "bin" / "sh")
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    try:
        for args in (["/bin/sh"], ["/bin/sh", "-c", "true"], ["/bin/evil"]):
            res = rt.cmd("exec", cid, *args)
            assert "HOST-PYTHON-RAN" not in res.stdout + res.stderr
            assert res.returncode != 0
        assert not (r / "pwned").exists()
    finally:
        rt.cmd("delete", "--force", cid)


def test_container_cannot_reach_host_binary_through_proc_exe(rt, make_bundle, attacker_bin,
                                                             tmp_path):
    """The attacker (pid 1) keeps an O_PATH fd of every /proc/<pid>/exe it
    can open and keeps trying to re-open it for writing, while pyrunc execs
    `#!/proc/self/exe` scripts and /bin/true into it and creates containers
    whose waiting inits live in its pid namespace."""
    results = tmp_path / "results"
    results.mkdir()
    b = attack_bundle(make_bundle, attacker_bin, results)
    _evil_rootfs(b)
    created = []
    victims = []

    def side(cid):
        ns = "/proc/%d/ns/pid" % rt.state(cid)["pid"]

        def join(c):
            for n in c["linux"]["namespaces"]:
                if n["type"] == "pid":
                    n["path"] = ns
        for i in range(5):
            vb = make_bundle(["/bin/true"], join)
            victims.append(vb / "rootfs")
            vid = unique_id("waiting")
            # stdio /dev/null: the waiting init's stdio must not look like a leak
            subprocess.run(PYRUNC + ["--root", rt.root, "create", "--bundle", str(vb), vid],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True, timeout=60)
            created.append(vid)
            # the attacker sees the waiting init in its pid namespace
            pid_in_ns = [l for l in open("/proc/%d/status" % rt.state(vid)["pid"])
                         if l.startswith("NSpid:")][0].split()[-1]
            assert wait_for(lambda: "SEEN %s" % pid_in_ns in read_log(results / "log"), 5)
            rt.ok("start", vid)
            rt.ok("delete", "--force", vid)

    jobs = [("plain", ["/bin/evil"])] * 50 + [("plain", ["/bin/true"])] * 50
    lines, ok, failures, stdio = race(rt, b, results, tmp_path, jobs=jobs, side=side)
    assert len(created) == 5
    forbidden = host_python_files()
    reached = [l for l in lines if l.startswith(("EXEID", "WOPEN")) and
               tuple(int(x) for x in [y for y in l.split() if not y.startswith("seals=")][-2:])
               in forbidden]
    assert not reached, "host interpreter files reached:\n" + "\n".join(reached)
    assert ok == 50, failures[:3]     # /bin/true; every /bin/evil fails in the helper
    bad = leaks(lines, b / "rootfs", (rt.root, tmp_path), stdio, victims)
    assert not bad, "the container reached host resources of the runtime:\n" + "\n".join(bad[:40])


def _host_interpreter_reached(lines):
    forbidden = host_python_files()
    return [l for l in lines if l.startswith("EXEID") and
            (int(l.split()[2]), int(l.split()[3])) in forbidden]


def _join_pid_ns_of(rt, make_bundle, cid, victims, n):
    """Create (and start) n containers that join cid's pid namespace, as
    the containers of a pod join its pause container's."""
    ns = "/proc/%d/ns/pid" % rt.state(cid)["pid"]

    def join(c):
        for x in c["linux"]["namespaces"]:
            if x["type"] == "pid":
                x["path"] = ns
    for _ in range(n):
        vb = make_bundle(["/bin/true"], join)
        victims.append(vb / "rootfs")
        vid = unique_id("pod")
        subprocess.run(PYRUNC + ["--root", rt.root, "create", "--bundle", str(vb), vid],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, timeout=60)
        rt.ok("start", vid)
        rt.ok("delete", "--force", vid)


def test_privileged_container_never_sees_the_host_interpreter(rt, make_bundle, attacker_bin,
                                                              tmp_path):
    """A privileged container (every capability the host has, CAP_SYS_PTRACE
    included, no user namespace: docker/podman --privileged) may read
    /proc/<pid>/exe of any process in its pid namespace, dumpable or not.
    While 200 `pyrunc exec`s race into it and 8 containers are created
    joining its pid namespace, no process there may ever run the host's
    interpreter: the first process of pyrunc to enter the namespace is the
    sealed init helper (it forks the process there, F_FORK)."""
    results = tmp_path / "results"
    results.mkdir()
    b = attack_bundle(make_bundle, attacker_bin, results, caps=ALL_CAPS)
    victims = []
    lines, ok, failures, stdio = race(
        rt, b, results, tmp_path, jobs=[("plain", ["/bin/true"])] * 200,
        side=lambda cid: _join_pid_ns_of(rt, make_bundle, cid, victims, 8))
    reached = _host_interpreter_reached(lines)
    assert not reached, "host interpreter seen in the container's pid namespace:\n" + \
        "\n".join(reached[:10])
    assert ok == 200, failures[:3]
    assert len(seen_pids(lines)) >= 100, "the attacker did not race"
    # With CAP_SYS_PTRACE the container may read the fds of every process in
    # its namespace (runc's init's exec fifo and sync pipes too: that is what
    # privileged means); it must never reach a host file through exe, cwd or
    # an fd that is not the runtime's own pipe, socket or fifo (or the procfs
    # context of this very pid namespace, made for a joining container).
    bad = [l for l in leaks(lines, b / "rootfs", (rt.root, tmp_path), stdio, victims)
           if not (l.startswith("FD ") and l.split(" ", 3)[3].startswith(
               ("pipe:", "socket:", "pid:", "anon_inode:[fscontext]", str(rt.root))))]
    assert not bad, "the container reached host resources:\n" + "\n".join(bad[:40])


def test_privileged_container_weakened_build_is_caught(rt, make_bundle, attacker_bin, tmp_path):
    """The same attacker against a pyrunc whose python enters the pid
    namespace before the helper (weakshim `pidfork`): it is seen."""
    results = tmp_path / "results"
    results.mkdir()
    b = attack_bundle(make_bundle, attacker_bin, results, caps=ALL_CAPS)
    lines, _ok, _f, _stdio = race(rt, b, results, tmp_path, jobs=[("plain", ["/bin/true"])] * 200,
                                  env=weak_env("pidfork"),
                                  stop_early=_host_interpreter_reached)
    assert _host_interpreter_reached(lines), "the weakened runtime was not caught"


def _watch_pid_ns(ns_link, stop, seen):
    """From the host: every process whose pid namespace is ns_link, and
    whose exe is a host interpreter file, goes into seen."""
    forbidden = host_python_files()
    while not stop.is_set():
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/ns/pid" % p) != ns_link:
                    continue
                st = os.stat("/proc/%s/exe" % p)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in forbidden:
                seen.append(p)


def _userns(c):
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("cgroup", "sysfs")]


@pytest.mark.parametrize("variant", ["exec", "exec-userns", "join-pid-ns",
                                     "join-pid-ns-no-pivot", "join-pid-ns-userns"])
def test_no_host_interpreter_in_the_pid_namespace_host_view(rt, make_bundle, traversable,
                                                            variant, weak=()):
    """The same rule seen from the host, which sees every process: while
    pyrunc execs into a container (with and without a user namespace) or
    creates containers that join its pid namespace (also with --no-pivot
    and a user namespace), no process of that pid namespace ever runs the
    host's interpreter."""
    import threading
    userns = variant.endswith("userns")
    b = make_bundle(["probe", "sleep", "120"], _userns if userns else None)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    init = rt.state(cid)["pid"]
    ns_link = os.readlink("/proc/%d/ns/pid" % init)
    stop, seen = threading.Event(), []
    t = threading.Thread(target=_watch_pid_ns, args=(ns_link, stop, seen))
    t.start()
    env = weak_env(*weak) if weak else None
    try:
        if variant.startswith("exec"):
            for _ in range(40):
                r = rt.cmd("exec", cid, "true", env=env)
                assert r.returncode == 0, r.stderr
        else:
            def join(c):
                if userns:
                    _userns(c)
                    for n in c["linux"]["namespaces"]:
                        if n["type"] == "user":
                            n["path"] = "/proc/%d/ns/user" % init
                    c["linux"].pop("uidMappings")
                    c["linux"].pop("gidMappings")
                for n in c["linux"]["namespaces"]:
                    if n["type"] == "pid":
                        n["path"] = "/proc/%d/ns/pid" % init
            vb = make_bundle(["true"], join)
            extra = ["--no-pivot"] if variant.endswith("no-pivot") else []
            for _ in range(8):
                vid = unique_id("pod")
                r = rt.cmd("run", *extra, "--bundle", vb, vid, env=env)
                assert r.returncode == 0, r.stderr
                rt.ok("delete", "--force", vid)
    finally:
        stop.set()
        t.join()
        rt.ok("delete", "--force", cid)
    if weak:
        assert seen, "the weakened runtime was not caught"
    else:
        assert not seen, "host interpreter in the container's pid namespace: pids %s" % seen


@pytest.mark.parametrize("variant", ["exec", "join-pid-ns"])
def test_no_host_interpreter_host_view_weakened_build_is_caught(rt, make_bundle, traversable,
                                                                variant):
    test_no_host_interpreter_in_the_pid_namespace_host_view(rt, make_bundle, None, variant,
                                                            weak=("pidfork",))
