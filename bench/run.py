#!/usr/bin/env python3
"""Benchmark pyrunc against runc (and crun when it is installed and runs).

    python3 bench/run.py [--runs N] [--out DIR] [--quick]

Every runtime is driven the same way, on the same bundle, in the same run,
alternating A B A B, by `subprocess` from this script (so the fork/exec cost
of the caller is the same for all).  Each runtime gets its own `--root` and
its own cgroupsPath prefix under a private temporary directory; everything
is deleted afterwards, also on failure or Ctrl-C.

Writes results.md and results.json into --out (default bench/results/).
See bench/README.md for what every metric means.  Only the standard library
is used, so any Python >= 3.9 on the host can run it.
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CGROUP_BASE = "/sys/fs/cgroup"
GNU_TIME = "/usr/bin/time"


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------
# the metrics: key -> (label, unit, target)
#   target: ("ratio", x)  pyrunc/runc median ratio must be <= x
#           ("abs", x)    pyrunc median must be <= x (in the metric's unit)
#           ("abs<", x)   pyrunc median must be < x
#           None          no target (informational)
# --------------------------------------------------------------------------
METRICS = [
    ("run_true", "`run` of `true` (whole lifecycle, one process)", "ms", ("ratio", 1.6)),
    ("seq_total", "create+state+start+state+kill+delete (whole sequence)", "ms", ("ratio", 2.0)),
    ("seq_create", "  sequence step: `create`", "ms", None),
    ("seq_state_created", "  sequence step: `state` (created)", "ms", None),
    ("seq_start", "  sequence step: `start`", "ms", None),
    ("seq_state_running", "  sequence step: `state` (running)", "ms", None),
    ("seq_kill", "  sequence step: `kill KILL`", "ms", None),
    ("seq_delete", "  sequence step: `delete --force`", "ms", None),
    ("state", "`state` of a running container", "ms", ("ratio", 3.0)),
    ("exec_true", "`exec` of `true` into a running container", "ms", None),
    ("podman_run", "`podman run --rm --network none` of `true` (end to end)", "ms",
     ("ratio", 1.10)),
    ("create_peak_rss", "peak RSS of the runtime during `create`", "MiB", ("ratio", 1.0)),
    ("init_rss", "RSS of a created container's waiting init", "MiB", ("ratio", 1.0)),
    ("scale", "scale: {scale_n} containers create+start+kill+delete, {scale_par} in flight (wall)", "s", ("ratio", 1.0)),
    ("list", "`list` with {list_n} containers present", "ms", ("abs<", 100.0)),
    ("list_json", "`list --format json` with {list_n} containers present", "ms", ("abs<", 100.0)),
]
METRIC_KEYS = [m[0] for m in METRICS]


# --------------------------------------------------------------------------
# one runtime under test
# --------------------------------------------------------------------------
class Runtime:
    def __init__(self, name, binary, work, tag, rootfs, base_config):
        self.name = name
        self.binary = binary
        self.root = work / ("root-" + name)
        self.bundles = work / ("bundles-" + name)
        self.bundles.mkdir(parents=True, exist_ok=True)
        self.cgparent = "bench-%s-%s" % (name, tag)
        self.rootfs = rootfs
        self.base_config = base_config
        self.version = ""
        self._n = 0
        self._lock = threading.Lock()

    # ---- bundles: one per container (own cgroupsPath), sharing the rootfs
    def new_id(self, kind):
        with self._lock:
            self._n += 1
            return "%s-%s-%d" % (self.name[:2], kind, self._n)

    def bundle(self, cid, args):
        cfg = json.loads(json.dumps(self.base_config))
        cfg["process"]["args"] = list(args)
        cfg["process"]["terminal"] = False
        cfg["root"] = {"path": str(self.rootfs), "readonly": True}
        cfg.setdefault("linux", {})["cgroupsPath"] = "/%s/%s" % (self.cgparent, cid)
        b = self.bundles / cid
        b.mkdir()
        (b / "config.json").write_text(json.dumps(cfg))
        return b

    def argv(self, *args):
        return shlex.split(self.binary) + ["--root", str(self.root)] + [str(a) for a in args]

    # ---- calls
    def call(self, *args, timeout=120, capture=False, wrap=None):
        """Run one runtime command; returns (seconds, stdout or None).
        stdio are /dev/null or files, never pipes: a created container keeps
        the stdio it was given, so waiting for EOF on a pipe would hang."""
        argv = self.argv(*args)
        if wrap:
            argv = list(wrap) + argv
        with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
            t0 = time.perf_counter()
            try:
                p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=out if capture else subprocess.DEVNULL,
                                     stderr=err)
            except OSError as e:
                raise BenchError("%s: %s" % (" ".join(argv), e))
            # a blocking wait: Popen.wait(timeout) polls with growing sleeps,
            # which would round every time up to 0.5*(2^k-1) ms
            timer = threading.Timer(timeout, p.kill)
            timer.start()
            try:
                rc = p.wait()
            finally:
                timer.cancel()
            dt = time.perf_counter() - t0
            if rc == -signal.SIGKILL and dt >= timeout:
                raise BenchError("%s: timed out after %ss" % (" ".join(argv), timeout))
            if rc != 0:
                err.seek(0)
                raise BenchError("%s: exit %d: %s" % (" ".join(argv), rc,
                                 err.read().decode(errors="replace").strip()[-2000:]))
            text = None
            if capture:
                out.seek(0)
                text = out.read().decode(errors="replace")
        return dt, text

    def state(self, cid):
        return json.loads(self.call("state", cid, capture=True)[1])

    def create(self, cid, bundle, pidfile=None, wrap=None):
        args = ["create", "--bundle", bundle]
        if pidfile:
            args += ["--pid-file", pidfile]
        return self.call(*(args + [cid]), wrap=wrap)[0]

    def delete_force(self, cid):
        try:
            self.call("delete", "--force", cid, timeout=60)
        except BenchError:
            pass

    # ---- cleanup: every container under our --root, then our cgroups
    def cleanup(self):
        if self.root.is_dir():
            ids = sorted(os.listdir(self.root))
            kill_cgroup_procs(self.cgparent)
            pool_run(4, self.delete_force, ids)
        remove_cgroup_prefix(self.cgparent)

    def leftovers(self):
        left = []
        if self.root.is_dir():
            left += ["state %s/%s" % (self.root, c) for c in os.listdir(self.root)]
        left += ["cgroup " + d for d in cgroup_dirs(self.cgparent)]
        return left


# --------------------------------------------------------------------------
# cgroups
# --------------------------------------------------------------------------
def cgroup_dirs(prefix):
    """Every cgroup directory named `prefix` at the top of a hierarchy (v1
    controllers, named hierarchies, the unified one, or pure v2)."""
    found = []
    cands = [os.path.join(CGROUP_BASE, prefix)]
    try:
        for e in os.listdir(CGROUP_BASE):
            cands.append(os.path.join(CGROUP_BASE, e, prefix))
    except OSError:
        pass
    for c in cands:
        if os.path.isdir(c) and c not in found:
            found.append(c)
    return found


def remove_cgroup_prefix(prefix):
    """Kill whatever is left in our cgroups (our containers only) and remove
    them bottom-up; the runtimes remove their leaves, never the parent."""
    for top in cgroup_dirs(prefix):
        for _ in range(50):
            busy = False
            for dirpath, _dirs, _files in os.walk(top, topdown=False):
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids = [int(x) for x in f.read().split()]
                except OSError:
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    os.rmdir(dirpath)
                except OSError:
                    busy = True
            if not busy:
                break
            time.sleep(0.1)


def kill_cgroup_procs(prefix, names=None, timeout=10.0):
    """SIGKILL every process in our cgroups /<prefix>/<name> (all names when
    None) and wait until they are gone. Only the run's own containers live
    there."""
    tops = cgroup_dirs(prefix)
    if not tops:
        return
    top = next((t for t in tops if "/pids/" in t), tops[0])
    dirs = ([os.path.join(top, n) for n in names] if names is not None
            else [d for d, _s, _f in os.walk(top)])
    deadline = time.monotonic() + timeout
    while True:
        alive = 0
        for d in dirs:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            for pid in pids:
                alive += 1
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if not alive or time.monotonic() > deadline:
            return
        time.sleep(0.01)


class PidWaiter:
    """Wait for a process that is not our child to exit (pidfd, else /proc)."""

    def __init__(self, pid):
        self.pid = pid
        self.fd = None

    def __enter__(self):
        try:
            self.fd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.fd = None
        return self

    def wait(self, timeout):
        if self.fd is not None:
            import select
            p = select.poll()
            p.register(self.fd, select.POLLIN)
            if not p.poll(timeout * 1000):
                raise BenchError("pid %d did not exit in %ss" % (self.pid, timeout))
            return
        deadline = time.monotonic() + timeout
        while os.path.exists("/proc/%d" % self.pid):
            st = first_line("/proc/%d/status" % self.pid, "State")
            if st.startswith(("Z", "X")):
                return
            if time.monotonic() > deadline:
                raise BenchError("pid %d did not exit in %ss" % (self.pid, timeout))
            time.sleep(0.001)

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)


def cgroup_layout():
    mounts = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                pre, _, post = line.partition(" - ")
                fstype = post.split()[0] if post else ""
                if fstype in ("cgroup", "cgroup2"):
                    mounts.append((pre.split()[4], fstype))
    except OSError:
        pass
    v1 = [m for m, t in mounts if t == "cgroup"]
    v2 = [m for m, t in mounts if t == "cgroup2"]
    if v2 and not v1:
        return "v2 (unified) at %s" % v2[0]
    if v1 and v2:
        return "hybrid: v1 controllers (%s) + v2 at %s" % (
            ", ".join(os.path.basename(m) for m in v1), ", ".join(v2))
    if v1:
        return "v1 (%s)" % ", ".join(os.path.basename(m) for m in v1)
    return "none found"


# --------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------
def summarize(samples):
    s = sorted(samples)
    n = len(s)
    if n >= 2:
        q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
    else:
        q1 = q3 = s[0]
    return {"median": statistics.median(s), "q1": q1, "q3": q3,
            "min": s[0], "max": s[-1], "n": n, "samples": samples}


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return "%.2f" % v
    if v >= 100:
        return "%.0f" % v
    return "%.1f" % v


# --------------------------------------------------------------------------
# the measurements; each takes the runtimes and appends to samples[key][rt]
# --------------------------------------------------------------------------
class Bench:
    def __init__(self, runtimes, params, log=print):
        self.rts = runtimes
        self.p = params
        self.samples = {k: {rt.name: [] for rt in runtimes} for k in METRIC_KEYS}
        self.errors = {}
        self.log = log

    def add(self, key, rt, value):
        self.samples[key][rt.name].append(value)

    def rounds(self, n, warmup=1):
        """n + warmup rounds; yields (counted, runtime), A B A B ..."""
        for i in range(n + warmup):
            for rt in self.rts:
                yield i >= warmup, rt

    def section(self, name, fn):
        self.log("== %s" % name)
        t0 = time.perf_counter()
        try:
            fn()
        except BenchError as e:
            self.errors[name] = str(e)
            self.log("   FAILED: %s" % e)
        self.log("   (%.1fs)" % (time.perf_counter() - t0))

    # 1. run of true
    def run_true(self):
        for counted, rt in self.rounds(self.p["runs"]):
            cid = rt.new_id("run")
            b = rt.bundle(cid, ["true"])
            try:
                dt = rt.call("run", "--bundle", b, cid)[0]
            finally:
                if (rt.root / cid).exists():
                    rt.delete_force(cid)
            if counted:
                self.add("run_true", rt, dt * 1e3)

    # 2. the containerd sequence
    def sequence(self):
        steps = [("seq_create", None), ("seq_state_created", "created"),
                 ("seq_start", None), ("seq_state_running", "running"),
                 ("seq_kill", None), ("seq_delete", None)]
        first = {rt.name: True for rt in self.rts}
        for counted, rt in self.rounds(self.p["runs"]):
            cid = rt.new_id("seq")
            b = rt.bundle(cid, ["sleep", "100"])
            pidfile = b / "pid"
            calls = [("create", "--bundle", b, "--pid-file", pidfile, cid),
                     ("state", cid), ("start", cid), ("state", cid),
                     ("kill", cid, "KILL"), ("delete", "--force", cid)]
            times = []
            try:
                t0 = time.perf_counter()
                for (key, want), args in zip(steps, calls):
                    check = want is not None and first[rt.name]
                    dt, out = rt.call(*args, capture=check)
                    times.append(dt)
                    if check:
                        st = json.loads(out)
                        if st.get("status") != want:
                            raise BenchError("%s state: status %r, expected %r"
                                             % (rt.name, st.get("status"), want))
                total = time.perf_counter() - t0
            finally:
                if (rt.root / cid).exists():
                    rt.delete_force(cid)
            first[rt.name] = False
            if counted:
                for (key, _), dt in zip(steps, times):
                    self.add(key, rt, dt * 1e3)
                self.add("seq_total", rt, total * 1e3)

    # 3. state and exec against a running container
    def state_exec(self):
        running = {}
        try:
            for rt in self.rts:
                cid = rt.new_id("st")
                b = rt.bundle(cid, ["sleep", "100000"])
                running[rt.name] = cid
                rt.create(cid, b)
                rt.call("start", cid)
                st = rt.state(cid)
                if st.get("status") != "running":
                    raise BenchError("%s: container not running: %r" % (rt.name, st))
            for counted, rt in self.rounds(self.p["runs"], warmup=2):
                dt = rt.call("state", running[rt.name])[0]
                if counted:
                    self.add("state", rt, dt * 1e3)
            for counted, rt in self.rounds(self.p["runs"]):
                dt = rt.call("exec", running[rt.name], "true")[0]
                if counted:
                    self.add("exec_true", rt, dt * 1e3)
        finally:
            for rt in self.rts:
                if rt.name in running:
                    rt.delete_force(running[rt.name])

    # 4. memory
    def memory(self):
        use_time = os.access(GNU_TIME, os.X_OK)
        if use_time:
            self.p["rss_method"] = ("GNU time -f %M (wait4 ru_maxrss of the runtime and "
                                    "the children it reaped)")
        else:
            # ru_maxrss keeps the hiwater of the mm replaced at exec, so a
            # process started from this script starts at this script's RSS
            p = subprocess.Popen(["true"])
            floor = os.wait4(p.pid, 0)[2].ru_maxrss / 1024.0
            p.returncode = 0
            self.p["rss_fallback"] = True
            self.p["rss_method"] = (
                "os.wait4 ru_maxrss from this script (no %s): an upper bound, the "
                "floor is this script's own RSS, %.1f MiB for `true`; install "
                "GNU time for real figures" % (GNU_TIME, floor))
        n = max(2, min(self.p["runs"], 10))
        for counted, rt in self.rounds(n):
            cid = rt.new_id("rss")
            b = rt.bundle(cid, ["sleep", "100"])
            pidfile = b / "pid"
            try:
                if use_time:
                    tf = b / "maxrss"
                    rt.create(cid, b, pidfile, wrap=[GNU_TIME, "-f", "%M", "-o", str(tf)])
                    kib = int(tf.read_text().split()[-1])
                else:
                    kib = self._create_wait4(rt, cid, b, pidfile)
                pid = int(pidfile.read_text().strip())
                init_kib = read_vmrss(pid)
            finally:
                rt.delete_force(cid)
            if counted:
                self.add("create_peak_rss", rt, kib / 1024.0)
                self.add("init_rss", rt, init_kib / 1024.0)

    def _create_wait4(self, rt, cid, b, pidfile):
        argv = rt.argv("create", "--bundle", b, "--pid-file", pidfile, cid)
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise BenchError("%s create: exit %d" % (rt.name, p.returncode))
        return ru.ru_maxrss

    # 5a. scale: N containers create+start+kill+wait+delete, P in flight
    def scale(self):
        n, par = self.p["scale_n"], self.p["scale_par"]

        def one(rt, cid, b):
            try:
                rt.create(cid, b, b / "pid")
                rt.call("start", cid)
                pid = int((b / "pid").read_text().strip())
                with PidWaiter(pid) as w:
                    rt.call("kill", cid, "KILL")
                    w.wait(30)
                rt.call("delete", cid)
            except BaseException:
                rt.delete_force(cid)
                raise

        for counted, rt in self.rounds(self.p["scale_runs"]):
            jobs = []
            for _ in range(n):
                cid = rt.new_id("sc")
                jobs.append((cid, rt.bundle(cid, ["sleep", "100"])))
            t0 = time.perf_counter()
            pool_run(par, lambda job: one(rt, *job), jobs)
            dt = time.perf_counter() - t0
            if counted:
                self.add("scale", rt, dt)

    # 5b. list with many containers present
    def list_many(self):
        n = self.p["list_n"]
        present = {rt.name: [] for rt in self.rts}

        def mk(rt):
            cid = rt.new_id("ls")
            b = rt.bundle(cid, ["sleep", "100000"])
            present[rt.name].append(cid)
            rt.create(cid, b)

        try:
            for rt in self.rts:
                check_memory(n, self.samples["init_rss"].get(rt.name))
                t0 = time.perf_counter()
                pool_run(self.p["scale_par"], mk, [rt] * n)
                self.log("   %s: %d containers created in %.1fs"
                         % (rt.name, n, time.perf_counter() - t0))
                out = rt.call("list", "-q", capture=True)[1].split()
                if len(out) != n:
                    raise BenchError("%s list -q: %d ids, expected %d" % (rt.name, len(out), n))
            runs = max(self.p["runs"], 3)
            for counted, rt in self.rounds(runs):
                dt = rt.call("list")[0]
                if counted:
                    self.add("list", rt, dt * 1e3)
            for counted, rt in self.rounds(runs):
                dt = rt.call("list", "--format", "json")[0]
                if counted:
                    self.add("list_json", rt, dt * 1e3)
        finally:
            for rt in self.rts:
                t0 = time.perf_counter()
                # untimed cleanup: kill the waiting inits first, so that
                # `delete --force` finds them dead (runc 1.1 otherwise
                # polls every 100 ms for each one)
                kill_cgroup_procs(rt.cgparent, present[rt.name])
                pool_run(self.p["scale_par"], rt.delete_force, present[rt.name])
                if present[rt.name]:
                    self.log("   %s: %d containers deleted in %.1fs"
                             % (rt.name, len(present[rt.name]), time.perf_counter() - t0))

    # 3b. end to end under podman: podman, conmon and the runtime together
    def podman_run(self):
        podman = find("podman")
        if not podman:
            self.p["podman"] = "not measured: podman is not installed"
            return
        # podman's own storage, on a short path: conmon's sockets live below
        # --runroot, and a socket path has at most 107 bytes
        base = Path(tempfile.mkdtemp(prefix="pbpm-", dir="/tmp"))
        systemd = os.path.isdir("/run/systemd/system")
        common = [podman, "--root", str(base / "root"), "--runroot", str(base / "run"),
                  "--tmpdir", str(base / "tmp"), "--events-backend", "file",
                  "--cgroup-manager", "systemd" if systemd else "cgroupfs"]
        image = "localhost/pyrunc-bench:%s" % uuid.uuid4().hex[:8]
        try:
            tar = base / "rootfs.tar"
            run_checked(["tar", "-C", str(self.rts[0].rootfs), "-cf", str(tar), "."])
            run_checked(common + ["import", "-q", str(tar), image], timeout=300)
            tar.unlink()
            # rootful podman asks for nofile 1048576 and nproc 32768, more
            # than a host without CAP_SYS_RESOURCE (this one) lets any runtime
            # set: ask both runtimes for limits that only lower
            limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
            argv = {}
            for rt in self.rts:
                words = shlex.split(rt.binary)
                path = shutil.which(words[0]) if len(words) == 1 else None
                if path is None:          # "python -m pyrunc": a wrapper podman can exec
                    path = str(base / ("rt-" + rt.name))
                    with open(path, "w") as f:
                        f.write("#!/bin/sh\nexec %s \"$@\"\n" % rt.binary)
                    os.chmod(path, 0o755)
                # each runtime's containers in its own cgroup prefix (cleaned up
                # with the rest of its cgroups)
                parent = [] if systemd else ["--cgroup-parent", "/%s/podman" % rt.cgparent]
                argv[rt.name] = common + ["--runtime", os.path.abspath(path), "run", "--rm",
                                          "--network", "none"] + parent + limits + [image, "true"]
            for counted, rt in self.rounds(self.p["runs"]):
                t0 = time.perf_counter()
                run_checked(argv[rt.name], timeout=120)
                if counted:
                    self.add("podman_run", rt, (time.perf_counter() - t0) * 1e3)
            self.p["podman"] = runtime_version(podman) or "podman"
        finally:
            subprocess.run(common + ["rmi", "-f", image], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            umount_below(str(base))
            shutil.rmtree(base, ignore_errors=True)

    def run_all(self):
        self.section("run of true", self.run_true)
        self.section("create/state/start/state/kill/delete", self.sequence)
        self.section("state and exec of a running container", self.state_exec)
        self.section("podman run --rm", self.podman_run)
        self.section("memory", self.memory)
        self.section("scale", self.scale)
        self.section("list", self.list_many)


def run_checked(argv, timeout=60):
    """A helper command that must succeed (stdio: /dev/null and a pipe for errors)."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchError("%s: %s" % (" ".join(argv), e))
    if p.returncode != 0:
        raise BenchError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                         p.stderr.decode(errors="replace").strip()[-2000:]))


def umount_below(top):
    """Unmount whatever podman's storage left mounted at or below top."""
    mps = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == top or mp.startswith(top + "/"):
                mps.append(mp)
    for mp in sorted(set(mps), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)


def pool_run(par, fn, items):
    """fn(item) for every item, `par` at a time; on the first failure (or
    Ctrl-C) the jobs not yet started are cancelled, then it re-raises."""
    ex = concurrent.futures.ThreadPoolExecutor(par)
    try:
        futs = [ex.submit(fn, it) for it in items]
        return [f.result() for f in futs]
    except BaseException:
        ex.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        ex.shutdown(wait=True)


def read_vmrss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS for pid %d" % pid)


def check_memory(n, init_rss_samples):
    """Refuse to fill the machine: n waiting inits plus kernel overhead."""
    per = (statistics.median(init_rss_samples) if init_rss_samples else 16.0) + 2.0
    avail = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) / 1024.0
    if avail is not None and n * per > 0.5 * avail:
        raise BenchError("list: %d containers x ~%.0f MiB would use more than half of "
                         "the %.0f MiB available; use --list-n" % (n, per, avail))


# --------------------------------------------------------------------------
# machine and runtimes
# --------------------------------------------------------------------------
def first_line(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def machine_info(load_start):
    mem = first_line("/proc/meminfo", "MemTotal")
    return {
        "cpu": first_line("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory": ("%.1f GiB" % (int(mem.split()[0]) / 1048576.0)
                   if mem.endswith("kB") else mem),
        "kernel": platform.release(),
        "cgroups": cgroup_layout(),
        "python (bench)": platform.python_version(),
        "load average 1/5/15 min (start, end)": "%s; %s" % (load_start, loadavg()),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def runtime_version(binary):
    try:
        p = subprocess.run(shlex.split(binary) + ["--version"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    return "; ".join(l.strip() for l in p.stdout.strip().splitlines())


def default_pyrunc():
    env = os.environ.get("PYRUNC")
    if env:
        return env
    venv = REPO / ".venv" / "bin" / "pyrunc"
    if venv.exists():
        return str(venv)
    return shutil.which("pyrunc") or ""


def find(name):
    return shutil.which(name) or next(
        (p for p in ("/usr/sbin/" + name, "/usr/local/sbin/" + name, "/usr/bin/" + name)
         if os.access(p, os.X_OK)), "")


def prepare_rootfs(dest):
    src = REPO / "bundles" / "busybox" / "rootfs"
    if (src / "bin").is_dir():
        shutil.copytree(src, dest, symlinks=True)
    else:
        subprocess.run(["sh", str(REPO / "bundles" / "make-rootfs.sh"), str(dest)], check=True)


def smoke(rt):
    """A runtime is benchmarked only if `run` of `true` works."""
    cid = rt.new_id("smoke")
    b = rt.bundle(cid, ["true"])
    try:
        rt.call("run", "--bundle", b, cid, timeout=60)
    finally:
        if (rt.root / cid).exists():
            rt.delete_force(cid)


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------
def build_results(bench, machine, runtimes, params, leftovers, skipped):
    names = [rt.name for rt in runtimes]
    metrics = {}
    for key, label, unit, target in METRICS:
        res = {}
        for name in names:
            s = bench.samples[key][name]
            res[name] = summarize(s) if s else None
        ratio = None
        if res.get("pyrunc") and res.get("runc") and res["runc"]["median"]:
            ratio = res["pyrunc"]["median"] / res["runc"]["median"]
        met = None
        if target and res.get("pyrunc"):
            kind, x = target
            if kind == "ratio":
                met = None if ratio is None else ratio <= x
            elif kind == "abs":
                met = res["pyrunc"]["median"] <= x
            else:
                met = res["pyrunc"]["median"] < x
        if key == "create_peak_rss" and params.get("rss_fallback"):
            met = None      # an upper bound decides nothing
        metrics[key] = {
            "label": label.format(**params).strip(), "unit": unit,
            "target": ({"kind": target[0], "value": target[1]} if target else None),
            "results": res, "ratio_pyrunc_runc": ratio, "target_met": met,
        }
    return {
        "machine": machine,
        "runtimes": {rt.name: {"path": rt.binary, "version": rt.version} for rt in runtimes},
        "skipped_runtimes": skipped,
        "params": params,
        "metrics": metrics,
        "errors": bench.errors,
        "leftovers": leftovers,
    }


def target_text(t, unit):
    if not t:
        return ""
    k, x = t["kind"], t["value"]
    if k == "ratio":
        return "ratio <= %g" % x
    return "%s %g %s" % ("<=" if k == "abs" else "<", x, unit)


def markdown(results):
    m = results["machine"]
    names = list(results["runtimes"])
    p = results["params"]
    lines = ["# pyrunc benchmark", ""]
    lines += ["| machine | |", "|---|---|"]
    for k, v in m.items():
        lines.append("| %s | %s |" % (k, v))
    for name, r in results["runtimes"].items():
        # the program's name only: the table is published (README), and the
        # path of the machine it ran on says nothing to a reader
        lines.append("| %s | %s (%s) |" % (name, r["version"],
                                           os.path.basename(r["path"].split()[-1])))
    for name, why in results["skipped_runtimes"].items():
        lines.append("| %s | not measured: %s |" % (name, why))
    lines += ["", "runs per metric: %d (scale: %d rounds; memory: %d); %s" % (
        p["runs"], p["scale_runs"], max(2, min(p["runs"], 10)),
        "quick mode" if p["quick"] else "full mode"),
        "cells: median [interquartile range q1-q3]; ratio = pyrunc median / runc median", ""]
    head = "| metric | unit | " + " | ".join(names) + " | pyrunc/runc | target | met |"
    lines += [head, "|---|---|" + "---|" * len(names) + "---|---|---|"]
    for key, mt in results["metrics"].items():
        u = mt["unit"]
        cells = []
        for name in names:
            r = mt["results"].get(name)
            cells.append("-" if not r else "%s [%s-%s]" % (
                fmt(r["median"], u), fmt(r["q1"], u), fmt(r["q3"], u)))
        ratio = mt["ratio_pyrunc_runc"]
        met = mt["target_met"]
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            mt["label"], u,
            " | ".join(cells), "-" if ratio is None else "%.2f" % ratio,
            target_text(mt["target"], u), "" if met is None else ("yes" if met else "**no**")))
    lines.append("")
    lines.append("memory: %s" % p.get("rss_method", "-"))
    lines.append("podman: %s" % p.get("podman", "-"))
    if results["errors"]:
        lines += ["", "## errors", ""]
        for k, v in results["errors"].items():
            lines.append("* %s: %s" % (k, v))
    lines += ["", "leftovers after cleanup: %s" % (", ".join(results["leftovers"]) or "none"), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, help="samples per metric (default 40, --quick 5)")
    ap.add_argument("--out", default=str(HERE / "results"), help="output directory")
    ap.add_argument("--quick", action="store_true", help="smoke version (about 10 s here)")
    ap.add_argument("--scale-n", type=int, help="containers in the scale test (default 50)")
    ap.add_argument("--scale-runs", type=int, help="rounds of the scale test (default 5)")
    ap.add_argument("--list-n", type=int, help="containers present for list (default 500)")
    ap.add_argument("--pyrunc", default=default_pyrunc(),
                    help="pyrunc command (default: $PYRUNC, .venv/bin/pyrunc, pyrunc on PATH)")
    ap.add_argument("--runc", default=find("runc"), help="runc binary ('' to skip)")
    ap.add_argument("--crun", default=find("crun"), help="crun binary ('' to skip)")
    ap.add_argument("--workdir", default=None, help="parent of the temporary directory (default /tmp)")
    return ap.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("bench/run.py: must run as root (it creates containers)")
    if not a.pyrunc or not shutil.which(shlex.split(a.pyrunc)[0]):
        sys.exit("bench/run.py: pyrunc not found (install it in .venv or pass --pyrunc)")
    params = {
        "quick": a.quick,
        "runs": a.runs or (5 if a.quick else 40),
        "scale_n": a.scale_n or (10 if a.quick else 50),
        "scale_par": 2,
        "scale_runs": a.scale_runs or (1 if a.quick else 5),
        "list_n": a.list_n or (50 if a.quick else 500),
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    # SIGTERM/SIGHUP -> the same cleanup as Ctrl-C
    def _stop(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _stop)

    tag = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="pyrunc-bench-", dir=a.workdir))
    runtimes, skipped, leftovers = [], {}, []
    t_start = time.perf_counter()
    load_start = loadavg()
    try:
        rootfs = work / "rootfs"
        prepare_rootfs(rootfs)
        base = json.loads((REPO / "bundles" / "busybox" / "config.json").read_text())
        for name, binary in (("pyrunc", a.pyrunc), ("runc", a.runc), ("crun", a.crun)):
            if not binary:
                if name != "crun":
                    skipped[name] = "not installed"
                continue
            rt = Runtime(name, binary, work, tag, rootfs, base)
            rt.version = runtime_version(binary)
            if rt.version is None:
                skipped[name] = "`%s --version` failed" % binary
                continue
            try:
                smoke(rt)
            except BenchError as e:
                if name == "pyrunc":
                    raise
                skipped[name] = "`run` of `true` failed: %s" % e
                rt.cleanup()
                continue
            runtimes.append(rt)
        print("runtimes: %s; runs %d; scale %d x %d; list %d" % (
            ", ".join(rt.name for rt in runtimes), params["runs"], params["scale_n"],
            params["scale_runs"], params["list_n"]), flush=True)
        params["roots"] = {rt.name: str(rt.root) for rt in runtimes}
        params["cgroup_parents"] = {rt.name: "/" + rt.cgparent for rt in runtimes}
        bench = Bench(runtimes, params, log=lambda s: print(s, flush=True))
        bench.run_all()
    finally:
        for rt in runtimes:
            rt.cleanup()
        for rt in runtimes:
            leftovers += rt.leftovers()
        try:
            with open("/proc/self/mountinfo") as f:
                leftovers += ["mount " + l.split()[4] for l in f if str(work) in l]
        except OSError:
            pass
        shutil.rmtree(work, ignore_errors=True)
    params["wall_s"] = round(time.perf_counter() - t_start, 1)

    results = build_results(bench, machine_info(load_start), runtimes, params, leftovers, skipped)
    results["machine"]["python (pyrunc)"] = _pyrunc_python(results)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    md = markdown(results)
    (out / "results.md").write_text(md)
    print()
    print(md)
    print("wrote %s and %s (%.0fs)" % (out / "results.md", out / "results.json", params["wall_s"]))
    return 1 if (bench.errors or leftovers) else 0


def _pyrunc_python(results):
    v = results["runtimes"].get("pyrunc", {}).get("version") or ""
    for part in v.split(";"):
        if part.strip().startswith("python:"):
            return part.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("bench/run.py: interrupted (containers, cgroups and the work directory were removed)")
