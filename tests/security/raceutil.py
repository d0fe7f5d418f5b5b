"""The /proc race used by test_cve_2016_9962 and test_cve_2019_5736: an
attacker container (tests/security/attacker.c `watch`) and many racing
`pyrunc exec`s; leaks() tells which successful accesses reveal the host."""
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

from secutil import (PYRUNC, ConsoleServer, host_python_files, host_strings, install_attacker,
                     read_log, rootfs_ids, unique_id, wait_for)

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


def exec_cmd(rt, *args, drop_ptrace=False):
    pre = ["setpriv", "--bounding-set", "-sys_ptrace"] if drop_ptrace else []
    return pre + PYRUNC + ["--root", rt.root, "exec"] + list(args)


def default_jobs(n_plain=N_PLAIN, n_tty=N_TTY, n_preserve=N_PRESERVE, args=("/bin/true",)):
    return ([("plain", list(args))] * n_plain + [("tty", list(args))] * n_tty +
            [("preserve", list(args))] * n_preserve)


def race(rt, bundle, results, tmp_path, jobs=None, env=None, drop_ptrace=False,
         stop_early=None, side=None):
    """Start the attacker container, run side(cid) and the exec jobs (4 at a
    time; kinds plain, tty (--tty --console-socket), preserve
    (--preserve-fds 1 with /dev/null as fd 3)), stop the attacker, delete it.
    Returns (log lines, #execs that succeeded, failures, the caller's own
    stdio paths as the container sees them)."""
    log = results / "log"
    cid = unique_id("race")
    rt.ok("run", "-d", "--bundle", bundle, cid)
    ok = [0]
    failures = []
    stdio = set()
    jobs = default_jobs() if jobs is None else jobs
    try:
        assert wait_for(lambda: "READY" in read_log(log)), "attacker did not start"
        if side:
            side(cid)
        console = ConsoleServer(tmp_path / "console.sock") if any(
            k == "tty" for k, _a in jobs) else None

        def one(job):
            kind, args = job
            if stop_early and stop_early(read_log(log)):
                return
            if kind == "tty":
                cmd = exec_cmd(rt, "--tty", "--console-socket", console.path, cid, *args,
                               drop_ptrace=drop_ptrace)
            elif kind == "preserve":
                cmd = exec_cmd(rt, "--preserve-fds", "1", cid, *args, drop_ptrace=drop_ptrace)
            else:
                cmd = exec_cmd(rt, cid, *args, drop_ptrace=drop_ptrace)
            kw = {}
            if kind == "preserve":
                # fd 3 of the caller (preserved on purpose) is /dev/null
                devnull = os.open("/dev/null", os.O_RDONLY)
                kw = dict(pass_fds=(3,), preexec_fn=lambda: os.dup2(devnull, 3))
            try:
                with tempfile.TemporaryFile() as err:
                    # the caller's own stderr reaches the exec'd process on purpose
                    stdio.add("/tmp/#%d (deleted)" % os.fstat(err.fileno()).st_ino)
                    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=err, env=env, timeout=60, **kw)
                    err.seek(0)
                    if r.returncode:
                        failures.append("%s: %d %s" % (kind, r.returncode, err.read()[-300:]))
            finally:
                if kind == "preserve":
                    os.close(devnull)
            if r.returncode == 0:
                ok[0] += 1

        with ThreadPoolExecutor(4) as ex:
            list(ex.map(one, jobs))
        if console:
            console.close()
        (results / "stop").write_text("")
        assert wait_for(lambda: any(l.startswith("DONE") for l in read_log(log)), 20)
    finally:
        rt.cmd("delete", "--force", cid)
    return read_log(log), ok[0], failures, stdio


HELPER = "/memfd:pyrunc-init (deleted)"
F_SEAL_WRITE = 8


def leaks(lines, rootfs, extra_strings=(), stdio=(), other_rootfs=()):
    """The log lines that reveal something of the host.

    Allowed: the container's own files, /dev/null and ptys, the caller's
    stdio; the sealed init helper as the exe of a process (a
    `#!/proc/self/exe` script runs it as the container's own process), and
    opening it for writing when it carries F_SEAL_WRITE. Anything else a
    process of the runtime holds (pipes, sockets, the plan memfd, host
    paths) is a leak. other_rootfs: root filesystems of other containers
    that share the attacker's pid namespace."""
    forbidden = host_python_files()
    allowed_ids = rootfs_ids(rootfs)
    for r in other_rootfs:
        allowed_ids |= rootfs_ids(r)
    strings = host_strings(*extra_strings)
    exe_of = {}
    for line in lines:
        if line.startswith("EXE "):
            _k, pid, target = line.split(" ", 2)
            exe_of.setdefault(pid, target)
    # the device of the helper's memfd (an EXEID can succeed where the readlink raced)
    helper_devs = {l.split()[2] for l in lines
                   if l.startswith("EXEID ") and exe_of.get(l.split()[1]) == HELPER}
    bad = []

    def in_rootfs(target):
        return (target.startswith("/") and not any(s in target for s in strings)
                and os.path.lexists(os.path.join(str(rootfs), target.lstrip("/"))))

    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "EXE":
            pid, _, target = rest.partition(" ")
            good = in_rootfs(target) or target == HELPER
        elif kind == "EXEID":
            pid, dev, ino = rest.split()
            ids = (int(dev), int(ino))
            good = ids not in forbidden and (ids in allowed_ids or dev in helper_devs)
        elif kind == "WOPEN":
            dev, ino, seals = rest.split()
            ids = (int(dev), int(ino))
            seals = int(seals.split("=")[1])
            good = ids not in forbidden and (ids in allowed_ids or
                                             (seals > 0 and seals & F_SEAL_WRITE))
        elif kind == "CWD":
            _pid, _, target = rest.partition(" ")
            good = in_rootfs(target) and os.path.isdir(os.path.join(str(rootfs),
                                                                    target.lstrip("/")))
        elif kind == "FD":
            target = rest.split(" ", 2)[2]
            good = target == "/dev/null" or target in stdio or \
                re.fullmatch(r"/dev/pts/\d+", target) or in_rootfs(target)
        elif kind == "FDWOPEN":
            good = False
        else:
            continue
        if not good:
            bad.append(line)
    return bad


def seen_pids(lines):
    return {l.split()[1] for l in lines if l.startswith("SEEN ")}


