"""SCMP_ACT_NOTIFY: the listener at listenerPath gets the container process
state and the notify fd, and decides for the container's syscalls."""
import fcntl
import json
import os
import socket
import struct
import threading
import time

import pytest

from conftest import unique_id

NOTIF_RECV = 0xC0502100      # SECCOMP_IOCTL_NOTIF_RECV (struct seccomp_notif, 80 bytes)
NOTIF_SEND = 0xC0182101      # SECCOMP_IOCTL_NOTIF_SEND (struct seccomp_notif_resp, 24 bytes)
EACCES = 13


class Agent(threading.Thread):
    """A seccomp agent: takes one connection, then answers every
    notification with EACCES until the container is gone."""

    def __init__(self, path, cont=False):
        super().__init__(daemon=True)
        self.cont = cont            # let every syscall go on (FLAG_CONTINUE)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.state = None
        self.fds = []
        self.fd_kind = None
        self.answered = 0

    def run(self):
        conn, _ = self.sock.accept()
        msg, fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
        if not self.cont:
            # the runtime closed the connection (with close notified too,
            # that close waits for this agent: not checked then)
            self.eof = conn.recv(1) == b""
        conn.close()
        self.fds = fds
        self.fd_kind = os.readlink("/proc/self/fd/%d" % fds[0])
        self.state = json.loads(msg)
        while True:
            buf = bytearray(80)
            try:
                fcntl.ioctl(fds[0], NOTIF_RECV, buf)
            except OSError:
                break               # the filter's last user is gone
            nid = struct.unpack_from("=Q", buf)[0]
            try:
                resp = (nid, 0, 0, 1) if self.cont else (nid, 0, -EACCES, 0)
                fcntl.ioctl(fds[0], NOTIF_SEND, bytearray(struct.pack("=QqiI", *resp)))
            except OSError:
                break
            self.answered += 1
        for fd in fds:
            os.close(fd)


def test_notify_listener_gets_state_and_fd(rt, make_bundle, tmp_path):
    path = str(tmp_path / "agent.sock")
    agent = Agent(path)
    agent.start()
    out = tmp_path / "out"
    out.mkdir()

    def edit(c):
        c["process"]["noNewPrivileges"] = True
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
            "listenerMetadata": "hello-agent",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
        c["annotations"] = {"x": "y"}
        c["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                            "options": ["rbind"]})
    b = make_bundle(["sh", "-c", "probe syscall mkdir /tmp/m > /out/r; probe syscall getpid >> /out/r"],
                    edit)
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    pid = rt.state(cid)["pid"]
    assert agent.state is None      # the filter is loaded as the last step: at start
    rt.ok("start", cid)
    for _ in range(250):
        if agent.state is not None:
            break
        time.sleep(0.02)
    st = agent.state
    assert st["ociVersion"] == "1.3.0" and st["fds"] == ["seccompFd"]
    assert st["metadata"] == "hello-agent"
    assert st["pid"] == pid and st["state"]["id"] == cid and st["state"]["pid"] == pid
    assert st["state"]["annotations"] == {"x": "y"}
    assert len(agent.fds) == 1 and agent.fd_kind == "anon_inode:seccomp notify"
    assert st["state"]["status"] == "created"
    assert agent.eof                       # one state per connection, then closed
    for _ in range(250):
        if rt.state(cid)["status"] == "stopped":
            break
        time.sleep(0.02)
    rt.ok("delete", cid)
    agent.join(timeout=10)
    assert (out / "r").read_text().split("\n")[:2] == ["ERR %d" % EACCES, "OK"]
    assert agent.answered == 1


def test_notify_errors(rt, make_bundle, tmp_path):
    def no_path(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], no_path), unique_id())
    assert r.returncode == 1 and "needs a listenerPath" in r.stderr

    def helper_syscall(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                                 "syscalls": [{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], helper_syscall), unique_id())
    assert r.returncode == 1 and "cannot be used for the sendmsg syscall" in r.stderr

    def as_default(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], as_default), unique_id())
    assert r.returncode == 1 and "cannot be the default action" in r.stderr

    def unreachable(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "listenerPath": str(tmp_path / "nobody.sock"),
                                 "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], unreachable), unique_id())
    assert r.returncode == 1 and "listenerPath" in r.stderr
    assert not os.path.exists(rt.root) or os.listdir(rt.root) == []



@pytest.mark.parametrize("nnp", [False, True])
def test_notify_for_the_syscalls_the_runtime_itself_makes(rt, make_bundle, tmp_path, nnp):
    """execve, openat, read, close, fcntl notified: the helper hands the fd
    to the agent first, so an agent that lets them go on sees the process
    run to its end (runc's "important syscalls"); only sendmsg and write are
    refused."""
    path = str(tmp_path / "agent.sock")
    agent = Agent(path, cont=True)
    agent.start()

    def edit(c):
        c["process"]["noNewPrivileges"] = nnp
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
            "syscalls": [{"names": ["execve", "openat", "open", "read", "close", "fcntl"],
                          "action": "SCMP_ACT_NOTIFY"}]}
    r = rt.cmd("run", "--bundle", make_bundle(["cat", "/etc/hostname"], edit), unique_id())
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    agent.join(timeout=10)
    assert agent.answered >= 3              # execve, openat, read, close at least


def test_notify_without_an_agent_says_so(rt, make_bundle, tmp_path):
    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "listenerPath": str(tmp_path / "nobody.sock"),
                                 "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], edit), unique_id())
    assert r.returncode == 1 and "failed to connect with seccomp agent" in r.stderr
    assert rt.ids() == []

