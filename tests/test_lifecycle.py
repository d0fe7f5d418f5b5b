"""Real containers: the lifecycle commands and their runc contract."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import PYRUNC, gone_or_zombie, unique_id, wait_for


def test_run_true_and_exit_codes(rt, make_bundle):
    b = make_bundle(["true"])
    assert rt.cmd("run", "--bundle", b, unique_id()).returncode == 0
    b = make_bundle(["sh", "-c", "exit 3"])
    assert rt.cmd("run", "--bundle", b, unique_id()).returncode == 3
    # (a signal's 128+N is checked from outside in test_pid_namespace...: pid 1
    # cannot SIGKILL itself)
    assert rt.ids() == []


def test_run_stdout_is_the_containers(rt, make_bundle):
    b = make_bundle(["sh", "-c", "echo out; echo err >&2; hostname"])
    r = rt.ok("run", "--bundle", b, unique_id())
    assert r.stdout == "out\npyrunc\n"
    assert r.stderr == "err\n"


def test_create_start_state_kill_delete(rt, make_bundle, tmp_path):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    pidfile = tmp_path / "pid"
    r = rt.ok("create", "--bundle", b, "--pid-file", pidfile, cid)
    assert r.stdout == ""                      # pyrunc prints nothing on stdout
    raw = pidfile.read_text()
    assert raw == raw.strip() and raw.isdigit()   # no trailing newline
    st = rt.state(cid)
    assert st["status"] == "created" and st["pid"] == int(raw)
    assert st["id"] == cid and st["bundle"] == str(b) and st["rootfs"] == str(b / "rootfs")
    assert st["ociVersion"] == "1.3.0" and st["created"].endswith("Z")
    # the waiting init is the sealed helper, not the host's python
    assert os.readlink("/proc/%s/exe" % raw).startswith("/memfd:pyrunc-init")
    rt.ok("start", cid)
    st = rt.state(cid)
    assert st["status"] == "running"
    assert rt.cmd("start", cid).returncode == 1       # only once
    rt.ok("kill", cid, "KILL")
    for _ in range(100):
        if rt.state(cid)["status"] == "stopped":
            break
        time.sleep(0.02)
    st = rt.state(cid)
    assert st["status"] == "stopped" and st["pid"] == 0
    r = rt.cmd("kill", cid, "TERM")
    assert r.returncode == 1 and "container not running" in r.stderr
    r = rt.cmd("start", cid)
    assert r.returncode == 1 and "cannot start a container that has stopped" in r.stderr
    rt.ok("delete", cid)
    r = rt.cmd("state", cid)
    assert r.returncode == 1 and "container does not exist" in r.stderr
    assert not os.path.exists(os.path.join(rt.root, cid))


def test_unknown_id_errors(rt):
    for args in (["state", "nope"], ["kill", "nope", "9"], ["delete", "nope"],
                 ["start", "nope"], ["exec", "nope", "true"]):
        r = rt.cmd(*args)
        code = 255 if args[0] == "exec" else 1      # exec failures are 255 (runc)
        assert r.returncode == code and "container does not exist" in r.stderr, args
    # the containerd shim relies on this
    assert rt.cmd("delete", "--force", "nope").returncode == 0


def test_duplicate_id_and_delete_of_created(rt, make_bundle):
    b = make_bundle(["true"])
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    r = rt.cmd("create", "--bundle", b, cid)
    assert r.returncode == 1 and "container with given ID already exists" in r.stderr
    # delete without --force refuses a created container and keeps it
    r = rt.cmd("delete", cid)
    assert r.returncode == 1 and "not stopped" in r.stderr
    assert rt.state(cid)["status"] == "created"
    pid = rt.state(cid)["pid"]
    rt.ok("delete", "--force", cid)
    assert gone_or_zombie(pid)


def test_kill_signal_forms(rt, make_bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    script = ("trap 'echo usr1 >> /out/log' USR1; trap 'echo usr2 >> /out/log' USR2; "
              "trap 'echo term >> /out/log; exit 0' TERM; echo ready > /out/log; "
              "while true; do sleep 0.05; done")

    def edit(cfg):
        cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                              "options": ["rbind"]})
    b = make_bundle(["sh", "-c", script], edit)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)

    def log():
        return (out / "log").read_text().split() if (out / "log").exists() else []
    assert wait_for(lambda: log() == ["ready"]), log()     # the traps are set
    rt.ok("kill", cid, "USR1")
    assert wait_for(lambda: log()[-1] == "usr1"), log()
    rt.ok("kill", cid, "SIGUSR2")
    assert wait_for(lambda: log()[-1] == "usr2"), log()
    rt.ok("kill", cid, "0")          # checks only
    rt.ok("kill", cid, "15")
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
    assert log() == ["ready", "usr1", "usr2", "term"]
    assert rt.cmd("kill", cid, "NOTASIGNAL").returncode != 0
    rt.ok("delete", cid)


def parent_cmdline(pid):
    """The command line of pid's parent (field 4 of /proc/PID/stat; field 5,
    read here before, is the process group, whose leader may be long gone).
    The parent may be a subreaper of the caller's that exits at any moment
    (the process is then reparented again): read both again until they come
    from one parent."""
    for _ in range(100):
        with open("/proc/%d/stat" % pid) as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        try:
            with open("/proc/%d/cmdline" % ppid) as f:
                return f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
    raise AssertionError("the parent of %d kept vanishing" % pid)


def test_exec(rt, make_bundle, tmp_path):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    r = rt.cmd("exec", cid, "sh", "-c", "echo $$ $FOO; exit 5", env=None)
    assert r.returncode == 5 and r.stdout.split()[0] != "1"
    r = rt.ok("exec", "--env", "FOO=bar", "--cwd", "/tmp", cid, "sh", "-c", "echo $FOO; pwd")
    assert r.stdout.split() == ["bar", "/tmp"]
    # joins every namespace of the container
    init = rt.state(cid)["pid"]
    r = rt.ok("exec", cid, "sh", "-c", "for n in pid mnt net uts ipc; do "
              "readlink /proc/self/ns/$n; done")
    want = [os.readlink("/proc/%d/ns/%s" % (init, n)) for n in ("pid", "mnt", "net", "uts", "ipc")]
    assert r.stdout.split() == want
    # --process file, detached with a pid file; its parent is not pyrunc
    proc = {"args": ["probe", "sleep", "30"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "env": ["PATH=/bin"]}
    pf = tmp_path / "proc.json"
    pf.write_text(json.dumps(proc))
    pidfile = tmp_path / "epid"
    rt.ok("exec", "--process", pf, "--detach", "--pid-file", pidfile, cid)
    epid = int(pidfile.read_text())
    argv = parent_cmdline(epid).split("\0")
    assert not any(a == PYRUNC[-1] or a.endswith("/pyrunc") or a.startswith("pyrunc-init")
                   for a in argv), argv
    rt.ok("delete", "--force", cid)
    r = rt.cmd("exec", cid, "true")
    assert r.returncode == 255 and "exec failed: container does not exist" in r.stderr


def test_exec_into_stopped_is_255(rt, make_bundle):
    b = make_bundle(["true"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    for _ in range(100):
        if rt.state(cid)["status"] == "stopped":
            break
        time.sleep(0.02)
    r = rt.cmd("exec", cid, "true")
    assert r.returncode == 255 and "cannot exec in a stopped container" in r.stderr
    rt.ok("delete", cid)


def test_list_formats(rt, make_bundle):
    ids = sorted(unique_id() for _ in range(2))
    for cid in ids:         # a bundle each: a cgroup is never shared
        rt.ok("create", "--bundle", make_bundle(["probe", "sleep", "60"]), cid)
    assert rt.ids() == ids
    js = json.loads(rt.ok("list", "--format", "json").stdout)
    assert [s["id"] for s in js] == ids and all(s["status"] == "created" for s in js)
    table = rt.ok("list").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "STATUS"] and len(table) == 3
    for cid in ids:
        rt.ok("delete", "--force", cid)
    # a --root the caller names must exist (runc); the default need not
    r = rt.cmd("--root", str(rt.root) + "-nope", "list")
    assert r.returncode == 1 and "no such file or directory" in r.stderr


def test_pid_namespace_and_stop_kills_everything(rt, make_bundle):
    b = make_bundle(["sh", "-c", "sleep 60 & sleep 60 & echo $$; wait"])
    cid = unique_id()
    p = subprocess.Popen(PYRUNC + ["--root", rt.root, "run", "--bundle", str(b), cid],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "1"        # pid 1 of its own namespace
    init = rt.state(cid)["pid"]
    children = subprocess.run(["pgrep", "-P", str(init)], capture_output=True,
                              text=True).stdout.split()
    assert len(children) == 2
    rt.ok("kill", cid, "KILL")
    assert p.wait(timeout=10) == 137
    for c in children:
        assert not os.path.exists("/proc/%s" % c)
    assert rt.ids() == []         # run deleted it


def test_config_edits_after_create_do_not_matter(rt, make_bundle):
    b = make_bundle(["sh", "-c", "echo original"])
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    (b / "config.json").write_text("{ broken")
    rt.ok("start", cid)
    rt.ok("delete", "--force", cid)


def test_start_without_process_fails_and_the_container_stops(rt, make_bundle):
    """process is OPTIONAL at create and REQUIRED at start (runtime-spec):
    create succeeds, start errors, and the container -- which can never run
    -- is stopped, so a plain delete cleans it up (runtime-tools `start`)."""
    b = make_bundle(["true"], edit=lambda c: c.pop("process"))
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    r = rt.cmd("start", cid)
    assert r.returncode == 1 and "process is required" in r.stderr
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
    r = rt.cmd("start", cid)
    assert r.returncode == 1 and "stopped" in r.stderr
    rt.ok("delete", cid)
    assert rt.ids() == []


def test_run_in_the_foreground_with_a_terminal(rt, make_bundle, tmp_path):
    """`pyrunc run` of a terminal: true config (what `pyrunc spec` writes)
    without --console-socket: pyrunc proxies the pty, as runc does."""
    def edit(c):
        c["process"]["terminal"] = True
    b = make_bundle(["sh"], edit)
    p = subprocess.run(PYRUNC + ["--root", rt.root, "run", "--bundle", str(b), unique_id()],
                       input="tty; echo hello-$((6*7)); exit 3\n", capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 3, p.stderr
    assert "/dev/pts/0" in p.stdout and "hello-42" in p.stdout
    # stdin is a pipe: ONLCR is off, lines end in \n alone (as runc)
    assert "\r" not in p.stdout, repr(p.stdout)
    assert rt.ids() == []


def test_exec_tty_in_the_foreground(rt, make_bundle):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    p = subprocess.run(PYRUNC + ["--root", rt.root, "exec", "-t", cid, "sh"],
                       input="tty; echo exec-$((6*7)); exit 4\n", capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 4, p.stderr
    assert "/dev/pts/" in p.stdout and "exec-42" in p.stdout
    assert "\r" not in p.stdout, repr(p.stdout)
    r = rt.cmd("exec", "-t", "-d", cid, "true")
    assert r.returncode == 255 and "console socket" in r.stderr
    # the terminal belongs to the process's user (runc)
    p = subprocess.run(PYRUNC + ["--root", rt.root, "exec", "-t", "--user", "1234:1234", cid,
                                 "sh", "-c", "stat -c '%u %g' $(tty)"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1234", "5"], p.stdout
    rt.ok("delete", "--force", cid)


def test_close_range_cloexec_fallback_marks_every_fd():
    """Before Linux 5.11 close_range(CLOSE_RANGE_CLOEXEC) is EINVAL: pyrunc
    marks the fds itself. Forced here with an undefined flag bit, which
    makes any kernel answer EINVAL."""
    import fcntl
    from pyrunc.linux.sys import CLOSE_RANGE_CLOEXEC, real
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
    try:
        for fd in fds:
            os.set_inheritable(fd, True)
        real().close_range(min(fds), max(fds), CLOSE_RANGE_CLOEXEC | (1 << 30))
        for fd in fds:
            assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    finally:
        for fd in fds:
            os.close(fd)


def test_syscall_errors_name_the_operation(rt, make_bundle):
    b = make_bundle(["true"], lambda c: c["mounts"].append(
        {"destination": "/x", "type": "nosuchfs", "source": "none"}))
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "error mounting /x (type nosuchfs)" in r.stderr and "no such device" in r.stderr, r.stderr
    # an OSError that reaches the command line keeps the syscall's name
    from pyrunc.cli import _oserr
    e = OSError(22, "close_range: Invalid argument")
    assert _oserr(e) == "close_range: invalid argument"
    assert _oserr(OSError(2, "openat2: No such file", "/x")) == "openat2: /x: no such file or directory"


@pytest.mark.parametrize("env, uid, want", [
    ([], 0, "/root"),                     # from the image's /etc/passwd
    (["HOME="], 0, "/root"),              # empty counts as missing
    (["HOME=/custom"], 0, "/custom"),     # given: kept
    ([], 4321, "/"),                      # a uid the image does not know
])
def test_home_from_the_images_passwd(rt, make_bundle, env, uid, want):
    def edit(c):
        c["process"]["env"] = ["PATH=/bin"] + env
        c["process"]["user"] = {"uid": uid, "gid": 0}
    b = make_bundle(["sh", "-c", 'echo "$HOME"'], edit)
    (b / "rootfs" / "etc").mkdir(exist_ok=True)
    (b / "rootfs" / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                                 "daemon:x:1:1::/usr/sbin:/bin/false\n")
    out = rt.ok("run", "--bundle", b, unique_id()).stdout
    assert out.strip() == want
    # exec gets the same rule
    b2 = make_bundle(["probe", "sleep", "30"], edit)
    (b2 / "rootfs" / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b2, cid)
    assert rt.ok("exec", "--user", "%d:0" % uid, cid, "sh", "-c", 'echo "$HOME"'
                 ).stdout.strip() == ("/" if uid else want)
    rt.ok("delete", "--force", cid)


def test_config_forms_runtime_spec_accepts(rt, make_bundle):
    """What runtime-spec's schema (and runc) accept: no process.user (uid and
    gid 0), a user without gid, a namespace with an empty path (a new one),
    timeOffsets null."""
    def edit(c):
        c["process"].pop("user")
        c["linux"]["namespaces"].append({"type": "uts", "path": ""}) if not any(
            n["type"] == "uts" for n in c["linux"]["namespaces"]) else None
        for n in c["linux"]["namespaces"]:
            if n["type"] == "ipc":
                n["path"] = ""
        c["linux"]["timeOffsets"] = None
    b = make_bundle(["sh", "-c", "id -u; id -g; readlink /proc/self/ns/ipc"], edit)
    out = rt.ok("run", "--bundle", b, unique_id()).stdout.split()
    assert out[:2] == ["0", "0"]
    assert out[2] != os.readlink("/proc/self/ns/ipc")      # a new ipc namespace
    b = make_bundle(["id", "-g"], lambda c: c["process"]["user"].pop("gid"))
    assert rt.ok("run", "--bundle", b, unique_id()).stdout.strip() == "0"


def test_a_call_the_kernel_lacks_is_one_line_naming_it_and_its_version():
    from pyrunc.errors import PyruncError
    from pyrunc.linux.sys import real
    sysc = real()
    sysc._ffi.errno = 38                    # ENOSYS, as an older kernel answers
    with pytest.raises(PyruncError) as e:
        sysc._check(-1, "mount_setattr")
    assert str(e.value) == ("mount_setattr: not implemented by this kernel (Linux %s; "
                            "the call needs Linux 5.12)" % os.uname().release)


def test_an_older_kernel_is_refused_at_once_in_one_line(rt, make_bundle):
    """Below Linux 5.10 pyrunc refuses before making anything, naming the
    kernel it needs (setarch --uname-2.6 makes uname(2) report 2.6.x)."""
    from pyrunc.errors import PyruncError
    from pyrunc.linux.sys import check_kernel
    check_kernel("5.10.0-32-amd64")
    check_kernel("6.18.44")
    with pytest.raises(PyruncError) as e:
        check_kernel("4.18.0-553.el8.x86_64")
    assert str(e.value).startswith("Linux 4.18.0-553.el8.x86_64 is too old: pyrunc needs "
                                   "Linux 5.10 or newer")
    b = make_bundle(["true"])
    r = subprocess.run(["setarch", os.uname().machine, "--uname-2.6"] + PYRUNC
                       + ["--root", rt.root, "run", "--bundle", b, unique_id()],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1 and "is too old: pyrunc needs Linux 5.10" in r.stderr
    assert rt.ids() == []


def test_env_one_entry_per_name_the_last_wins(rt, make_bundle):
    """runc: a name given twice is set once, to its last value, and an
    empty HOME (even after a non-empty one) is the user's home."""
    def edit(c):
        c["process"]["env"] = ["ONE=two", "PATH=/usr/bin:/bin", "ONE=three",
                               "HOME=/override", "HOME="]
    b = make_bundle(["env"], edit)
    out = rt.ok("run", "--bundle", b, unique_id()).stdout.split()
    assert sorted(out) == ["HOME=/root", "ONE=three", "PATH=/usr/bin:/bin"]
    assert out.index("ONE=three") < out.index("PATH=/usr/bin:/bin")   # first one's place


def test_foreground_terminal_output_has_no_carriage_returns(rt, make_bundle):
    """runc clears ONLCR on the container's pty whatever our stdin is: a
    terminal's own output processing adds \\r where one is needed."""
    def edit(c):
        c["process"]["terminal"] = True
    b = make_bundle(["sh", "-c", "echo one; echo two"], edit)
    import pty
    m, s = pty.openpty()
    try:
        r = subprocess.run(PYRUNC + ["--root", rt.root, "run", "--bundle", b, unique_id()],
                           stdin=s, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
    finally:
        os.close(m)
        os.close(s)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"one\ntwo\n"


def test_exec_failures_are_255_in_runcs_words(rt, make_bundle, tmp_path):
    """runc's exec.bats: a pid file that cannot be written fails the exec
    (255, the process killed); an execve error reads "exec PATH: error"."""
    b = make_bundle(["sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    try:
        r = rt.cmd("exec", "--pid-file", tmp_path / "missing" / "pid", cid, "sleep", "77")
        assert r.returncode == 255 and "pid file" in r.stderr, r.stderr
        assert subprocess.run(["pgrep", "-f", "sleep 77"]).returncode == 1
        r = rt.cmd("exec", cid, "/run.sh")
        assert r.returncode == 255
        assert "exec /run.sh: no such file or directory" in r.stderr, r.stderr
    finally:
        rt.ok("delete", "--force", cid)


def test_kill_without_a_pid_namespace_reaches_what_outlives_the_init(rt, make_bundle):
    """runc's kill.bats "host pidns + init gone": without a pid namespace of
    its own, KILL goes to every process of the container's cgroup, even
    once its init has died and the container is stopped."""
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
    b = make_bundle(["sh", "-c", "sleep 171 & sleep 171 & exec sleep 172"], edit)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    try:
        init = rt.state(cid)["pid"]
        assert wait_for(lambda: len(subprocess.run(["pgrep", "-f", "sleep 171"],
                                                   capture_output=True).stdout.split()) == 2)
        os.kill(init, signal.SIGKILL)
        assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
        r = rt.cmd("kill", cid, "KILL")
        assert r.returncode == 0, r.stderr
        assert wait_for(lambda: subprocess.run(["pgrep", "-f", "sleep 171"]).returncode == 1)
        r = rt.cmd("kill", cid, "TERM")          # any other signal: not running
        assert r.returncode == 1 and "container not running" in r.stderr
    finally:
        rt.ok("delete", "--force", cid)


class PidfdReceiver:
    """The caller's side of --pidfd-socket: listen, accept one connection
    in a thread, keep the pidfd it brings (SCM_RIGHTS)."""

    def __init__(self, path):
        import socket
        import threading
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.path = str(path)
        self.fd, self.payload = None, None
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        import array
        import socket
        self.sock.settimeout(30)
        conn, _ = self.sock.accept()
        with conn:
            fds = array.array("i")
            msg, anc, _f, _a = conn.recvmsg(64, socket.CMSG_LEN(fds.itemsize))
            self.payload = msg
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[:fds.itemsize])
            self.fd = fds[0] if fds else None

    def get(self):
        self.t.join(30)
        self.sock.close()
        assert self.fd is not None, "no pidfd received"
        return self.fd


def test_pidfd_socket_gets_the_process_for_create_run_and_exec(rt, make_bundle, tmp_path):
    """--pidfd-socket (runc 1.2+): the caller receives a pidfd of the init
    (create, run -d) or of the exec'd process and signals exactly it."""
    for verb in ("create", "run"):
        b = make_bundle(["sleep", "1000"])
        cid = unique_id()
        recv = PidfdReceiver(tmp_path / ("%s.sock" % verb))
        args = ["--bundle", b, "--pidfd-socket", recv.path, cid]
        rt.ok(verb, *(["-d"] if verb == "run" else []), *args)
        fd = recv.get()
        assert recv.payload == b"pidfd"
        init = rt.state(cid)["pid"]
        assert int(open("/proc/self/fdinfo/%d" % fd).read().split("Pid:")[1].split()[0]) == init
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        os.close(fd)
        assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
        rt.ok("delete", cid)
    b = make_bundle(["sleep", "1000"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    recv = PidfdReceiver(tmp_path / "exec.sock")
    pidf = tmp_path / "exec.pid"
    rt.ok("exec", "-d", "--pid-file", pidf, "--pidfd-socket", recv.path, cid, "sleep", "999")
    fd = recv.get()
    pid = int(pidf.read_text())
    assert int(open("/proc/self/fdinfo/%d" % fd).read().split("Pid:")[1].split()[0]) == pid
    signal.pidfd_send_signal(fd, signal.SIGKILL)
    os.close(fd)
    assert wait_for(lambda: gone_or_zombie(pid))
    assert rt.state(cid)["status"] == "running"       # the init was not touched
    r = rt.cmd("exec", "--pidfd-socket", str(tmp_path / "nobody.sock"), cid, "true")
    assert r.returncode == 255 and "pidfd socket" in r.stderr and \
        "no such file or directory" in r.stderr
    rt.ok("delete", "--force", cid)
    r = rt.cmd("run", "-d", "--bundle", b, "--pidfd-socket", str(tmp_path / "nobody.sock"),
               unique_id())
    assert r.returncode == 1 and "pidfd socket" in r.stderr
    assert rt.ids() == []


def test_a_created_container_ends_on_term_as_runcs_does(rt, make_bundle):
    """The waiting init is pid 1 of its namespace, which ignores what it has
    no handler for: it handles TERM, INT and HUP until `start` (runc's init
    is a Go program that does), so `kill` of a created container stops it;
    the process started later still gets the caller's dispositions."""
    for sig in ("TERM", "HUP"):
        cid = unique_id()
        rt.ok("create", "--bundle", make_bundle(["true"]), cid)
        rt.ok("kill", cid, sig)
        assert wait_for(lambda: rt.state(cid)["status"] == "stopped"), rt.state(cid)
        rt.ok("delete", cid)
    # after start, TERM with the default disposition: pid 1 ignores it
    cid = unique_id()
    rt.ok("create", "--bundle", make_bundle(["sleep", "1000"]), cid)
    rt.ok("start", cid)
    rt.ok("kill", cid, "TERM")
    time.sleep(0.3)
    assert rt.state(cid)["status"] == "running"
    pid = rt.state(cid)["pid"]
    sigcgt = [l for l in open("/proc/%d/status" % pid) if l.startswith("SigCgt")][0]
    assert int(sigcgt.split()[1], 16) == 0      # no handler left behind
    rt.ok("delete", "--force", cid)


def test_checkpoint_parent_path_is_checked_first(rt, make_bundle, tmp_path):
    """--parent-path is relative to --image-path and must exist there: said
    before anything else, whatever the host's CRIU can do (runc)."""
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", make_bundle(["sleep", "1000"]), cid)
    img = tmp_path / "img"
    img.mkdir()
    for parent in (str(tmp_path / "parent"), "./parent"):
        r = rt.cmd("checkpoint", "--parent-path", parent, "--image-path", img, cid)
        assert r.returncode == 1 and "--parent-path" in r.stderr, r.stderr
    assert rt.state(cid)["status"] == "running"
    rt.ok("delete", "--force", cid)


def test_debug_lines_in_runcs_format(rt, make_bundle, tmp_path):
    """--debug: runc's text lines on stderr, or only in the --log file (text
    or JSON); the steps named as runc names them (its debug.bats)."""
    steps = ("nsexec container setup", "child process in init()",
             "init: closing the pipe to signal completion")
    b = make_bundle(["true"])
    r = rt.ok("--debug", "run", "--bundle", b, unique_id())
    assert "level=debug" in r.stderr and all(s in r.stderr for s in steps), r.stderr
    for fmt, mark in (("text", "level=debug"), ("json", '"level":"debug"')):
        log = tmp_path / ("log-" + fmt)
        r = rt.ok("--debug", "--log", log, "--log-format", fmt, "run", "--bundle", b,
                  unique_id())
        assert "level=debug" not in r.stderr
        text = log.read_text()
        assert mark in text and all(s in text for s in steps), text
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", make_bundle(["sleep", "100"]), cid)
    r = rt.ok("--debug", "exec", cid, "true")
    assert "setns_init: about to exec" in r.stderr
    rt.ok("delete", "--force", cid)


def test_seccomp_flags_default_to_spec_allow_when_absent(rt, make_bundle):
    """No "flags": SPEC_ALLOW where the kernel has it (runc); an empty list:
    none. The debug log says which."""
    from pyrunc.linux import seccomp
    spec_allow = seccomp.FLAGS["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    supported = "SECCOMP_FILTER_FLAG_SPEC_ALLOW" in seccomp.features()["supportedFlags"]
    for flags, want in ((None, spec_allow if supported else 0), ([], 0)):
        def edit(c, flags=flags):
            c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
            if flags is not None:
                c["linux"]["seccomp"]["flags"] = flags
        r = rt.ok("--debug", "run", "--bundle", make_bundle(["true"], edit), unique_id())
        assert '"seccomp filter flags: %d"' % want in r.stderr, r.stderr


def test_a_child_that_failed_with_our_message_unread_still_reports_its_error():
    """A child that sent "E <text>" and exited before reading what we sent
    (the "C" of create, say) makes the kernel fail our next recv once with
    ECONNRESET; its error is still queued and is what create reports
    (seen as "pyrunc: run: connection reset by peer" in a userns bind test)."""
    import socket
    from pyrunc.lifecycle.common import recv_from_child, send_to_child
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        send_to_child(ours, b"C 123")
        theirs.send(b"E operation not permitted")
        theirs.close()
        assert recv_from_child(ours) == b"E operation not permitted"
        assert recv_from_child(ours) == b""
    finally:
        ours.close()
