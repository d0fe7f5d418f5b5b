"""Helpers and fixtures shared by tests/security (imported by the test
modules; tests/conftest.py provides rt, make_bundle, base_rootfs).

* attacker_bin: tests/security/attacker.c built static once per session;
  install_attacker(bundle, attacker_bin) puts it at /bin/attacker.
* weak_env(*names): the environment for a *weakened* pyrunc: the
  sitecustomize in tests/security/weakshim replaces one protective function
  of pyrunc (see that file) in every pyrunc process started with it. Used
  by the `..._weakened_build_is_caught` tests to prove an attack check can
  fail.
* small helpers to edit config.json, read host mount tables, run a
  container with a console socket, and find host files that must never be
  reachable from a container (the interpreter, libpython, the shim).
"""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import PYRUNC, unique_id, wait_for  # noqa: F401  (tests/conftest.py, re-exported)

HERE = Path(__file__).resolve().parent
WEAKSHIM = HERE / "weakshim"

from pyrunc.linux.capabilities import NAMES as _NAMES  # noqa: E402

ALL_CAPS = list(_NAMES)


@pytest.fixture(scope="session")
def attacker_bin(tmp_path_factory):
    out = tmp_path_factory.mktemp("attacker") / "attacker"
    subprocess.run(["cc", "-static", "-O2", "-s", "-o", str(out), str(HERE / "attacker.c")],
                   check=True)
    return out


def install_attacker(bundle, attacker_bin):
    dst = Path(bundle) / "rootfs" / "bin" / "attacker"
    shutil.copy(attacker_bin, dst)
    os.chmod(dst, 0o755)


def edit_config(bundle, fn):
    p = Path(bundle) / "config.json"
    cfg = json.loads(p.read_text())
    fn(cfg)
    p.write_text(json.dumps(cfg, indent=1))


def drop_mounts(cfg, *prefixes):
    """Remove the mounts whose destination is one of prefixes or below."""
    def hit(d):
        return any(d == p or d.startswith(p.rstrip("/") + "/") for p in prefixes)
    cfg["mounts"] = [m for m in cfg["mounts"] if not hit(m["destination"])]


def weak_env(*names):
    """Environment for a pyrunc whose protections `names` are removed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(WEAKSHIM) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYRUNC_TEST_WEAKEN"] = ",".join(names)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def mountpoints():
    """Mount points in this (the host's) mount namespace."""
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4].replace("\\040", " ") for line in f}


def mountpoints_under(path):
    path = str(path).rstrip("/")
    return {m for m in mountpoints() if m == path or m.startswith(path + "/")}


def tree(path):
    """{relative path: (type, content-or-target, mode)} of a host directory
    (symlinks not followed), for before/after comparisons."""
    out = {}
    root = str(path)
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(top, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p), 0)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[rel] = ("file", f.read(), stat.S_IMODE(st.st_mode), st.st_mtime_ns)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", None, stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("other", st.st_rdev, stat.S_IMODE(st.st_mode))
    return out


def host_python_files():
    """(dev, ino) -> name of host files a container must never reach through
    /proc/<pid>/exe: the interpreter, libpython, pyrunc's cffi shim and
    helper source."""
    import pyrunc
    found = {}
    paths = {os.path.realpath(sys.executable), os.path.realpath("/proc/self/exe")}
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and ("libpython" in parts[5] or "_shim" in parts[5]):
                paths.add(parts[5])
    pkg = os.path.dirname(pyrunc.__file__)
    for name in os.listdir(pkg):
        if name.endswith((".so", ".bin")):
            paths.add(os.path.join(pkg, name))
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        found[(st.st_dev, st.st_ino)] = p
    return found


def host_strings(*extra):
    """Substrings that betray a host path in a readlink result."""
    import pyrunc
    s = {os.path.realpath(sys.executable), os.path.dirname(pyrunc.__file__),
         sys.prefix, sys.base_prefix, "/sys/fs/cgroup",
         os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + "/"}
    s.update(str(e) for e in extra)
    return sorted(x for x in s if x and x != "/")


def rootfs_ids(rootfs):
    ids = set()
    for top, _dirs, files in os.walk(str(rootfs)):
        for name in files:
            try:
                st = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                ids.add((st.st_dev, st.st_ino))
    return ids


def read_log(path):
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []


class ConsoleServer:
    """A --console-socket listener: accepts connections in a thread,
    receives the pty master of each, and collects what it reads until EOF."""

    def __init__(self, path):
        self.path = str(path)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(64)
        self.outputs = []
        self.names = []
        self._stop = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self._stop:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            try:
                msg, fds, _f, _a = socket.recv_fds(conn, 4096, 4)
            except OSError:
                conn.close()
                continue
            conn.close()
            self.names.append(msg.decode(errors="replace"))
            for fd in fds:
                threading.Thread(target=self._drain, args=(fd,), daemon=True).start()

    def _drain(self, fd):
        out = b""
        while True:
            try:
                b = os.read(fd, 4096)
            except OSError:
                break
            if not b:
                break
            out += b
        os.close(fd)
        self.outputs.append(out.decode(errors="replace").replace("\r", ""))

    def close(self):
        self._stop = True
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()
