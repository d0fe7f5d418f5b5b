"""CVE-2024-21626 ("Leaky Vessels"): a working directory through a leaked
fd (process.cwd or `exec --cwd` = /proc/self/fd/N) reaching the host's
filesystem, and fd hygiene towards the container.

The caller here is careless on purpose: it leaks the host's / as an
inheritable fd 42 into every pyrunc invocation. A host marker file in the
host's / shows whether the container could walk there.
"""
import json
import os
import stat
import subprocess
import sys
import tempfile
import uuid

import pytest

from secutil import PYRUNC, edit_config, unique_id, wait_for, weak_env

LEAK_FD = 42
FDS = list(range(3, 41)) + [LEAK_FD]


@pytest.fixture
def marker():
    """/rt-host-marker-<rand> in the host's root directory."""
    name = "rt-host-marker-" + uuid.uuid4().hex[:12]
    path = "/" + name
    with open(path, "w") as f:
        f.write("host\n")
    yield name
    os.unlink(path)


@pytest.fixture
def leaky(tmp_path):
    """Run pyrunc like a careless caller: fd 42 is the host's / (inheritable),
    fd 3 a host directory (used only when --preserve-fds asks for it)."""
    root = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    extra = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)

    def child():
        os.dup2(extra, 3)
        os.dup2(root, LEAK_FD)

    def run(rt, *args, env=None, stdout=None, timeout=60):
        """stdout/stderr through files, never pipes: a created container
        keeps the stdio it was given."""
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run(PYRUNC + ["--root", rt.root] + [str(a) for a in args],
                               stdin=subprocess.DEVNULL, stdout=stdout or out,
                               stderr=subprocess.STDOUT if stdout else err, text=True,
                               close_fds=False, preexec_fn=child, env=env, timeout=timeout)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())
    yield run
    os.close(root)
    os.close(extra)


def escaped(out, marker):
    return marker in out


SHOW = "probe cwd; ls -a ../../../../../../../../../.."


def test_process_cwd_proc_self_fd_never_leaves_the_container(rt, make_bundle, leaky, marker):
    b = make_bundle(["sh", "-c", SHOW])
    for n in FDS:
        edit_config(b, lambda c: c["process"].update(cwd="/proc/self/fd/%d" % n))
        r = leaky(rt, "run", "--bundle", b, unique_id())
        assert not escaped(r.stdout, marker), "cwd fd %d reached the host:\n%s" % (n, r.stdout)
        if r.returncode == 0:
            cwd = r.stdout.splitlines()[0]
            assert cwd.startswith("/") and not cwd.startswith("/proc/self/fd"), (n, cwd)
    assert rt.ids() == []


def test_exec_cwd_proc_self_fd_never_leaves_the_container(rt, make_bundle, leaky, marker,
                                                          tmp_path):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    try:
        for n in FDS:
            r = leaky(rt, "exec", "--cwd", "/proc/self/fd/%d" % n, cid, "sh", "-c", SHOW)
            assert not escaped(r.stdout, marker), "exec --cwd fd %d reached the host:\n%s" % (
                n, r.stdout)
            if r.returncode == 0:
                cwd = r.stdout.splitlines()[0]
                assert cwd.startswith("/") and not cwd.startswith("/proc/self/fd"), (n, cwd)
        # the same through --process
        proc = {"args": ["sh", "-c", SHOW], "cwd": "/proc/self/fd/%d" % LEAK_FD,
                "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]}
        pf = tmp_path / "process.json"
        pf.write_text(json.dumps(proc))
        r = leaky(rt, "exec", "--process", pf, cid)
        assert not escaped(r.stdout, marker), r.stdout
    finally:
        rt.cmd("delete", "--force", cid)


def test_exec_cwd_weakened_build_is_caught(rt, make_bundle, leaky, marker):
    """Without the check that the new cwd is inside the root, and without
    exec closing the caller's fds in the container's namespaces (the two
    barriers), `exec --cwd /proc/self/fd/42` walks the host: the tests above
    would fail."""
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    try:
        r = leaky(rt, "exec", "--cwd", "/proc/self/fd/%d" % LEAK_FD, cid, "sh", "-c", SHOW,
                  env=weak_env("cwd", "execfds"))
        assert escaped(r.stdout, marker), "the weakened runtime was not caught: %s %s" % (
            r.stdout, r.stderr)
    finally:
        rt.cmd("delete", "--force", cid)


def fd_numbers(out):
    return sorted(int(l.split()[0]) for l in out.splitlines() if l.split() and
                  l.split()[0].isdigit())


def test_leaked_caller_fds_do_not_reach_the_process(rt, make_bundle, leaky, tmp_path):
    """run, create+start and exec: exactly 0, 1, 2 (+ the --preserve-fds)."""
    b = make_bundle(["probe", "fds"])
    r = leaky(rt, "run", "--bundle", b, unique_id())
    assert r.returncode == 0, r.stderr
    assert fd_numbers(r.stdout) == [0, 1, 2], r.stdout
    r = leaky(rt, "run", "--preserve-fds", "1", "--bundle", b, unique_id())
    assert fd_numbers(r.stdout) == [0, 1, 2, 3], r.stdout
    assert "3 %s" % tmp_path in r.stdout.splitlines()

    # create + start: the process writes to the file create was given
    out = tmp_path / "create.out"
    cid = unique_id()
    with open(out, "w") as f:
        r = leaky(rt, "create", "--bundle", b, cid, stdout=f)
    assert r.returncode == 0, out.read_text()
    rt.ok("start", cid)
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped", 10)
    rt.ok("delete", cid)
    assert fd_numbers(out.read_text()) == [0, 1, 2], out.read_text()

    # exec
    b2 = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b2, cid)
    try:
        r = leaky(rt, "exec", cid, "probe", "fds")
        assert fd_numbers(r.stdout) == [0, 1, 2], r.stdout
        r = leaky(rt, "exec", "--preserve-fds", "1", cid, "probe", "fds")
        assert fd_numbers(r.stdout) == [0, 1, 2, 3], r.stdout
    finally:
        rt.cmd("delete", "--force", cid)


def init_fd_leaks(rt, cid, bundle, preserved=()):
    """What the created (waiting) init holds that it should not: directory
    fds, anything under --root but the exec/done fifos, the bundle, Python
    files, cgroupfs, the runtime's memfds and sockets."""
    import pyrunc
    pid = rt.state(cid)["pid"]
    fifos = {os.path.join(rt.root, cid, "exec.fifo"), os.path.join(rt.root, cid, "done.fifo")}
    bad = []
    for name in os.listdir("/proc/%d/fd" % pid):
        n = int(name)
        p = "/proc/%d/fd/%d" % (pid, n)
        try:
            target = os.readlink(p)
            st = os.stat(p)
        except OSError:
            continue
        if n in preserved:
            continue
        why = None
        if stat.S_ISDIR(st.st_mode):
            why = "directory"
        elif target.startswith(rt.root) and target not in fifos:
            why = "state dir"
        elif target in fifos:
            continue
        elif n <= 2:
            continue
        elif (target.endswith((".py", ".pyc", ".so")) or target.startswith(sys.prefix)
              or target.startswith(os.path.dirname(pyrunc.__file__))):
            why = "python"
        elif target.startswith("/sys/fs/cgroup"):
            why = "cgroupfs"
        elif target.startswith(str(bundle)):
            why = "bundle"
        else:
            why = "unexpected"
        bad.append("%d -> %s (%s)" % (n, target, why))
    return bad


def test_created_init_holds_no_host_fds(rt, make_bundle, leaky):
    b = make_bundle(["true"])
    for flags in ((), ("--preserve-fds", "1")):
        cid = unique_id()
        r = leaky(rt, "create", *flags, "--bundle", b, cid)
        assert r.returncode == 0, r.stderr
        try:
            bad = init_fd_leaks(rt, cid, b, preserved=(3,) if flags else ())
            assert not bad, "the waiting init holds: %s" % bad
        finally:
            rt.cmd("delete", "--force", cid)


def test_created_init_fd_hygiene_weakened_build_is_caught(rt, make_bundle, leaky):
    """With pyrunc's close_range(CLOEXEC) of the caller's fds removed, the
    waiting init keeps the leaked host / (fd 42): the check above catches it."""
    b = make_bundle(["true"])
    cid = unique_id()
    r = leaky(rt, "create", "--bundle", b, cid, env=weak_env("closerange"))
    assert r.returncode == 0, r.stderr
    try:
        bad = init_fd_leaks(rt, cid, b)
        assert any(l.startswith("%d -> / " % LEAK_FD) for l in bad), bad
    finally:
        rt.cmd("delete", "--force", cid)
