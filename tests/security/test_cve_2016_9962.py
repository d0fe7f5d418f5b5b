"""CVE-2016-9962: a process in the container races `pyrunc exec` and tries
to read the runtime's helpers through /proc/<pid> (exe, cwd, fd/*).

pyrunc's processes that enter the container's pid namespace (exec's C2,
create's init) must be non-dumpable until the final execve, so no
PTRACE_MODE_READ access succeeds; what the container may see afterwards
is its own process (busybox, /dev/null, the pty).

The attacker is tests/security/attacker.c (`attacker watch`), pid 1 of
the container; it logs every successful access. A success is a leak when
it names or reaches something of the host: a file that is not part of the
rootfs (the interpreter, libpython, pyrunc's shim), a path under the
state root / bundle / pyrunc package / host cgroupfs, or a pipe, socket or
anonymous inode of the runtime.
"""
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from secutil import (ALL_CAPS, ConsoleServer, PYRUNC, attacker_bin, host_python_files,  # noqa: F401
                     host_strings, install_attacker, read_log, rootfs_ids, unique_id,
                     wait_for, weak_env)

N_PLAIN = 120
N_TTY = 20
N_PRESERVE = 10


def attack_bundle(make_bundle, attacker_bin, results, caps=None):
    def edit(c):
        c["mounts"].append({"destination": "/results", "type": "bind",
                            "source": str(results), "options": ["rbind"]})
        if caps is not None:
            for k in ("bounding", "effective", "permitted"):
                c["process"]["capabilities"][k] = list(caps)
    b = make_bundle(["attacker", "watch", "/results/log", "/results/stop"], edit)
    install_attacker(b, attacker_bin)
    return b


def exec_cmd(rt, cid, *args, drop_ptrace=False):
    pre = ["setpriv", "--bounding-set", "-sys_ptrace"] if drop_ptrace else []
    return pre + PYRUNC + ["--root", rt.root, "exec"] + list(args)


def race(rt, bundle, results, tmp_path, n_plain=N_PLAIN, n_tty=N_TTY, n_preserve=N_PRESERVE,
         env=None, drop_ptrace=False, stop_early=None):
    """Start the attacker, run the execs, stop it; returns (log lines, #execs ok)."""
    log = results / "log"
    cid = unique_id("race")
    rt.ok("run", "-d", "--bundle", bundle, cid)
    ok = [0]
    try:
        assert wait_for(lambda: "READY" in read_log(log)), "attacker did not start"
        console = ConsoleServer(tmp_path / "console.sock") if n_tty else None

        def one(kind):
            if stop_early and stop_early(read_log(log)):
                return
            if kind == "tty":
                cmd = exec_cmd(rt, "--tty", "--console-socket", console.path, cid, "/bin/true",
                               drop_ptrace=drop_ptrace)
            elif kind == "preserve":
                cmd = exec_cmd(rt, "--preserve-fds", "1", cid, "/bin/true",
                               drop_ptrace=drop_ptrace)
            else:
                cmd = exec_cmd(rt, cid, "/bin/true", drop_ptrace=drop_ptrace)
            kw = {}
            if kind == "preserve":
                # fd 3 of the caller (preserved on purpose) is /dev/null
                devnull = os.open("/dev/null", os.O_RDONLY)
                kw = dict(pass_fds=(3,), preexec_fn=lambda: os.dup2(devnull, 3))
            try:
                r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env=env, timeout=60, **kw)
            finally:
                if kind == "preserve":
                    os.close(devnull)
            if r.returncode == 0:
                ok[0] += 1

        kinds = ["plain"] * n_plain + ["tty"] * n_tty + ["preserve"] * n_preserve
        with ThreadPoolExecutor(4) as ex:
            list(ex.map(one, kinds))
        if console:
            console.close()
        (results / "stop").write_text("")
        assert wait_for(lambda: any(l.startswith("DONE") for l in read_log(log)), 20)
    finally:
        rt.cmd("delete", "--force", cid)
    return read_log(log), ok[0]


def leaks(lines, rootfs, extra_strings=()):
    """The log lines that reveal something of the host."""
    forbidden = host_python_files()
    allowed_ids = rootfs_ids(rootfs)
    strings = host_strings(*extra_strings)
    bad = []

    def in_rootfs(target):
        return (target.startswith("/") and not any(s in target for s in strings)
                and os.path.lexists(os.path.join(str(rootfs), target.lstrip("/"))))

    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "EXE":
            _pid, _, target = rest.partition(" ")
            good = in_rootfs(target)
        elif kind in ("EXEID", "WOPEN"):
            f = rest.split()
            dev, ino = int(f[-2]), int(f[-1])
            good = (dev, ino) in allowed_ids and (dev, ino) not in forbidden
        elif kind == "CWD":
            _pid, _, target = rest.partition(" ")
            good = in_rootfs(target) and os.path.isdir(os.path.join(str(rootfs),
                                                                    target.lstrip("/")))
        elif kind == "FD":
            target = rest.split(" ", 2)[2]
            good = target == "/dev/null" or re.fullmatch(r"/dev/pts/\d+", target) or \
                in_rootfs(target)
        else:
            continue
        if not good:
            bad.append(line)
    return bad


def seen_pids(lines):
    return {l.split()[1] for l in lines if l.startswith("SEEN ")}


def test_container_cannot_read_exec_helpers_through_proc(rt, make_bundle, attacker_bin, tmp_path):
    """Default capabilities (no CAP_SYS_PTRACE), 150 racing execs (plain,
    --tty with --console-socket, --preserve-fds)."""
    results = tmp_path / "results"
    results.mkdir()
    b = attack_bundle(make_bundle, attacker_bin, results)
    lines, ok = race(rt, b, results, tmp_path)
    assert ok == N_PLAIN + N_TTY + N_PRESERVE
    # the attacker really raced: it saw most exec'd processes
    assert len(seen_pids(lines)) >= (N_PLAIN + N_TTY + N_PRESERVE) // 2, lines[:20]
    bad = leaks(lines, b / "rootfs", (rt.root, tmp_path))
    assert not bad, "the container reached host resources of the runtime:\n" + "\n".join(bad[:40])


STRONG = [c for c in ALL_CAPS if c != "CAP_SYS_PTRACE"]


def test_strong_attacker_without_ptrace_cap_still_sees_nothing(rt, make_bundle, attacker_bin,
                                                                tmp_path):
    """The attacker holds every capability the runtime holds, except
    CAP_SYS_PTRACE (the runtime's execs run without it as well), so the
    kernel's capability-subset rule does not protect the runtime's helpers:
    only their non-dumpable state does."""
    results = tmp_path / "results"
    results.mkdir()
    b = attack_bundle(make_bundle, attacker_bin, results, caps=STRONG)
    lines, ok = race(rt, b, results, tmp_path, n_plain=80, n_tty=0, n_preserve=0,
                     drop_ptrace=True)
    assert ok == 80
    assert len(seen_pids(lines)) >= 40
    bad = leaks(lines, b / "rootfs", (rt.root, tmp_path))
    assert not bad, "the container reached host resources of the runtime:\n" + "\n".join(bad[:40])


def test_strong_attacker_weakened_build_is_caught(rt, make_bundle, attacker_bin, tmp_path):
    """Same attack against a pyrunc whose PR_SET_DUMPABLE(0) calls are
    no-ops: the attacker must now reach the host interpreter through
    /proc/<pid>/exe and the runtime's fds, i.e. the check above can fail."""
    results = tmp_path / "results"
    results.mkdir()
    b = attack_bundle(make_bundle, attacker_bin, results, caps=STRONG)
    python_ids = set(host_python_files())

    def caught(lines):
        return any(l.startswith("EXEID") and
                   (int(l.split()[2]), int(l.split()[3])) in python_ids for l in lines)
    lines, _ok = race(rt, b, results, tmp_path, n_plain=80, n_tty=0, n_preserve=0,
                      drop_ptrace=True, env=weak_env("dumpable"), stop_early=caught)
    bad = leaks(lines, b / "rootfs", (rt.root, tmp_path))
    assert bad, "the weakened runtime was not caught"
    assert caught(lines), "no /proc/<pid>/exe of the host interpreter was reached:\n" + \
        "\n".join(bad[:40])
