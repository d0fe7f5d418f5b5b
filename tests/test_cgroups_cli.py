"""Real containers: the cgroup-facing commands (pause, resume, ps, update,
events) and the limits they rely on (memory OOM, pids, v1 device rules),
checked from the host side under /sys/fs/cgroup."""
import json
import os
import subprocess
import tempfile
import time

import pytest

from conftest import CONFIGS, PYRUNC, REFERENCE, unique_id, wait_for

CG = "/sys/fs/cgroup"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (real containers)")


def v1_hierarchy(ctrl):
    """The mount point of the v1 hierarchy holding `ctrl`, or None."""
    for d in sorted(os.listdir(CG)) if os.path.isdir(CG) else ():
        if ctrl in d.split(",") and os.path.isdir(os.path.join(CG, d)) \
                and not os.path.islink(os.path.join(CG, d)):
            return os.path.join(CG, d)
    return None


def needs_v1(*ctrls):
    """Skip, before anything is created, where these tests cannot read the
    v1 files they check (a pure cgroup v2 host)."""
    missing = [c for c in ctrls if v1_hierarchy(c) is None]
    return pytest.mark.skipif(bool(missing), reason="no v1 hierarchy for %s" % ", ".join(missing))


def cgfile(cfg_path, ctrl, name):
    """The host file `name` of controller `ctrl` for the container's cgroup."""
    top = v1_hierarchy(ctrl)
    assert top, "no v1 %s hierarchy: mark the test needs_v1(%r)" % (ctrl, ctrl)
    return top + cfg_path + "/" + name


def cgread(cfg_path, ctrl, name):
    with open(cgfile(cfg_path, ctrl, name)) as f:
        return f.read().strip()


def cgroups_path(bundle):
    return json.loads((bundle / "config.json").read_text())["linux"]["cgroupsPath"]


def wait_stopped(rt, cid):
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped"), rt.state(cid)


def with_stdin(rt, data, *args):
    """pyrunc with `data` on stdin (stdout/stderr to files, as Runtime.cmd)."""
    with tempfile.TemporaryFile() as inp, tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        inp.write(data)
        inp.seek(0)
        p = subprocess.run(PYRUNC + ["--root", rt.root] + [str(a) for a in args],
                           stdin=inp, stdout=out, stderr=err, timeout=60)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


def bind(src, dst):
    def edit(cfg):
        cfg["mounts"].append({"destination": dst, "type": "bind", "source": str(src),
                              "options": ["rbind", "rw"]})
    return edit


def resources(**res):
    def edit(cfg):
        cfg["linux"].setdefault("resources", {}).update(res)
    return edit


def edits(*fns):
    def edit(cfg):
        for f in fns:
            f(cfg)
    return edit


# --- pause / resume -----------------------------------------------------------

@needs_v1("freezer")
def test_pause_resume_stops_and_restarts_the_processes(rt, make_bundle, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    counter = data / "counter"
    script = "i=0; while :; do i=$((i+1)); echo $i > /data/counter; sleep 0.02; done"
    b = make_bundle(["sh", "-c", script], bind(data, "/data"))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)

    def value():
        try:
            return int(counter.read_text() or 0)
        except (OSError, ValueError):
            return 0
    assert wait_for(lambda: value() > 2)
    r = rt.ok("pause", cid)
    assert r.stdout == "" and r.stderr == ""
    assert rt.state(cid)["status"] == "paused"
    assert cgread(cgroups_path(b), "freezer", "freezer.state") == "FROZEN"
    v = value()
    time.sleep(0.5)
    assert value() == v                      # nothing runs while frozen
    # pause twice: runc says "container not running"
    r = rt.cmd("pause", cid)
    assert r.returncode == 1 and "container not running" in r.stderr
    rt.ok("resume", cid)
    assert rt.state(cid)["status"] == "running"
    assert cgread(cgroups_path(b), "freezer", "freezer.state") == "THAWED"
    assert wait_for(lambda: value() > v + 2)
    r = rt.cmd("resume", cid)
    assert r.returncode == 1 and "container not paused" in r.stderr
    # a paused container can be killed and force-deleted
    rt.ok("pause", cid)
    rt.ok("delete", "--force", cid)
    assert rt.ids() == []


@needs_v1("freezer")
@pytest.mark.parametrize("which", ["itself", "its parent"])
def test_frozen_target_cgroup_is_refused_not_waited_on(rt, make_bundle, which):
    """A cgroupsPath naming a frozen cgroup (or one under a frozen parent):
    the init would stop in the middle of its set-up. One-line error, in
    bounded time, and nothing of the container left (runc refuses too)."""
    b = make_bundle(["probe", "sleep", "60"])
    path = cgroups_path(b)
    frozen = path if which == "itself" else path.rsplit("/", 1)[0]
    fz = v1_hierarchy("freezer") + frozen
    os.makedirs(fz, exist_ok=True)
    with open(fz + "/freezer.state", "w") as f:
        f.write("FROZEN")
    try:
        t = time.monotonic()
        r = rt.cmd("run", "-d", "--bundle", b, unique_id(), timeout=30)
        assert time.monotonic() - t < 10
        assert r.returncode == 1 and "container's cgroup unexpectedly frozen" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert rt.ids() == []
        for h in os.listdir(CG):
            d = os.path.join(CG, h) + path
            assert not os.path.isdir(d) or d == fz, d    # only what we made is gone
    finally:
        with open(fz + "/freezer.state", "w") as f:
            f.write("THAWED")
        os.rmdir(fz)


@needs_v1("freezer")
def test_exec_into_a_paused_container(rt, make_bundle, tmp_path):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    rt.ok("pause", cid)
    t = time.monotonic()
    r = rt.cmd("exec", cid, "true", timeout=30)
    assert time.monotonic() - t < 10
    assert r.returncode == 255 and r.stderr.strip().endswith(
        "exec failed: cannot exec in a paused container (use --ignore-paused to override)")
    # --ignore-paused: the process is set up in the frozen cgroup and runs
    # once the container is resumed
    out = tmp_path / "out"
    with open(out, "w") as f:
        p = subprocess.Popen(PYRUNC + ["--root", rt.root, "exec", "--ignore-paused", cid,
                                       "echo", "after-resume"],
                             stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    time.sleep(0.5)
    assert p.poll() is None and out.read_text() == ""
    rt.ok("resume", cid)
    assert p.wait(timeout=30) == 0
    assert out.read_text().strip() == "after-resume"
    rt.ok("delete", "--force", cid)


def test_pause_resume_errors(rt, make_bundle):
    for cmd in ("pause", "resume"):
        r = rt.cmd(cmd, "nope")
        assert r.returncode == 1 and "container does not exist" in r.stderr, cmd
        assert rt.cmd(cmd).returncode != 0           # the id is required
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    r = rt.cmd("pause", cid)
    assert r.returncode == 1 and "container not running" in r.stderr
    assert rt.state(cid)["status"] == "created"
    r = rt.cmd("resume", cid)
    assert r.returncode == 1 and "container not paused" in r.stderr
    rt.ok("start", cid)
    rt.ok("kill", cid, "KILL")
    wait_stopped(rt, cid)
    r = rt.cmd("pause", cid)
    assert r.returncode == 1 and "container not running" in r.stderr
    r = rt.cmd("resume", cid)
    assert r.returncode == 1 and "container not paused" in r.stderr
    rt.ok("delete", cid)


def test_pause_error_goes_to_the_json_log(rt, make_bundle, tmp_path):
    log = tmp_path / "log.json"
    r = subprocess.run(PYRUNC + ["--root", rt.root, "--log", str(log), "--log-format=json",
                                 "pause", "nope"], capture_output=True, text=True)
    assert r.returncode == 1
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["level"] == "error" and "container does not exist" in rec["msg"]


def test_a_cgroup_in_use_is_never_shared(rt, make_bundle):
    """A second container naming the cgroup of a running one is refused,
    explicit path or not (runc 1.2+), and leaves nothing; the first runs on."""
    b1 = make_bundle(["sleep", "1000"])
    path = cgroups_path(b1)

    def same(cfg):
        cfg["linux"]["cgroupsPath"] = path
    b2 = make_bundle(["true"], same)
    c1 = unique_id()
    rt.ok("run", "-d", "--bundle", b1, c1)
    for verb in ("run", "create"):
        r = rt.cmd(verb, "--bundle", b2, unique_id())
        assert r.returncode == 1 and "container's cgroup is not empty" in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1
    assert rt.ids() == [c1] and rt.state(c1)["status"] == "running"
    rt.ok("delete", "--force", c1)


@needs_v1("memory")
def test_unified_keys_for_a_v1_controller_are_an_invalid_configuration(rt, make_bundle):
    """memory.min in linux.resources.unified where memory is a v1 controller:
    a one-line error in runc's words, nothing left."""
    b = make_bundle(["true"], resources(unified={"memory.min": "131072"}))
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert r.returncode == 1 and "invalid configuration" in r.stderr, r.stderr
    assert "memory" in r.stderr and len(r.stderr.splitlines()) == 1
    assert rt.ids() == [] and not os.path.exists(v1_hierarchy("memory") + cgroups_path(b))


def test_device_access_letters_other_than_rwm_are_ignored(rt, make_bundle):
    """runtime-spec's schema takes any access string and runc reads "rwa" as
    "rw" (runc's update.bats): the container starts, the rule applies."""
    def edit(cfg):
        cfg["linux"].setdefault("resources", {})["devices"] = [
            {"allow": False, "access": "rwm"},
            {"allow": False, "type": "c", "major": 1, "minor": 11, "access": "rwa"}]
    b = make_bundle(["sh", "-c", "echo ok > /dev/null && echo ok"], edit)
    assert rt.ok("run", "--bundle", b, unique_id()).stdout == "ok\n"


@pytest.mark.skipif(not (v1_hierarchy("cpu") and
                         os.path.exists(v1_hierarchy("cpu") + "/cpu.cfs_burst_us")),
                    reason="no v1 cpu.cfs_burst_us here")
def test_update_cpu_burst_zero_turns_it_off(rt, make_bundle):
    b = make_bundle(["sleep", "1000"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    rt.ok("update", "--cpu-period", "900000", "--cpu-burst", "500000", cid)
    assert cgread(cgroups_path(b), "cpu", "cpu.cfs_burst_us") == "500000"
    rt.ok("update", "--memory", "100M", cid)            # other updates keep it
    assert cgread(cgroups_path(b), "cpu", "cpu.cfs_burst_us") == "500000"
    rt.ok("update", "--cpu-period", "900000", "--cpu-burst", "0", cid)
    assert cgread(cgroups_path(b), "cpu", "cpu.cfs_burst_us") == "0"
    rt.ok("delete", "--force", cid)


@needs_v1("memory")
@pytest.mark.parametrize("cgroupns", [True, False])
def test_v1_cgroup_mount_shows_only_the_containers_cgroup(rt, make_bundle, cgroupns):
    """/sys/fs/cgroup/<controller> inside is the container's own cgroup, with
    or without a cgroup namespace, never the host's hierarchy root; with one
    and a writable mount, a sub-cgroup made inside lands below the
    container's and `delete --force` removes it (runc's delete.bats)."""
    def edit(c):
        for m in c["mounts"]:
            if m["type"] == "cgroup":
                m["options"] = [o for o in m.get("options", []) if o != "ro"] + ["rw"]
        ns = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]
        c["linux"]["namespaces"] = ns + ([{"type": "cgroup"}] if cgroupns else [])
    b = make_bundle(["sleep", "1000"], edit)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    path = cgroups_path(b)
    pid = rt.state(cid)["pid"]
    roots = [l.split()[3] for l in open("/proc/%d/mountinfo" % pid)
             if l.split()[4] == "/sys/fs/cgroup/memory"]
    assert roots == [path], roots           # the host sees the mount's real root
    if cgroupns:
        rt.ok("exec", cid, "mkdir", "/sys/fs/cgroup/memory/foo")
        assert os.path.isdir(v1_hierarchy("memory") + path + "/foo")
    rt.ok("delete", "--force", cid)
    assert not os.path.exists(v1_hierarchy("memory") + path)


# --- exec --cgroup -------------------------------------------------------------

def test_exec_cgroup_joins_a_sub_cgroup_and_refuses_to_climb(rt, make_bundle):
    """runc's `exec --cgroup`: PATH (every controller) or CTL:PATH (v1) below
    the container's cgroup; `..` out of it, a missing one or an unknown
    controller fail the exec (255) and nothing runs."""
    b = make_bundle(["sleep", "1000"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    path = cgroups_path(b)
    r = rt.cmd("exec", "--cgroup", "..", cid, "touch", "/tmp/ran")
    assert r.returncode == 255 and "bad sub cgroup path: .." in r.stderr, r.stderr
    r = rt.cmd("exec", "--cgroup", "nonexistent", cid, "touch", "/tmp/ran")
    assert r.returncode == 255, r.stderr
    assert "adding pid " in r.stderr and "no such file or directory" in r.stderr
    assert rt.cmd("exec", cid, "test", "-e", "/tmp/ran").returncode == 1
    mem = v1_hierarchy("memory")
    if mem:
        r = rt.cmd("exec", "--cgroup", "whaaat:/", cid, "true")
        assert r.returncode == 255 and "unknown controller whaaat" in r.stderr, r.stderr
        os.mkdir(mem + path + "/submem")
        out = rt.ok("exec", "--cgroup", "memory:submem", cid, "cat", "/proc/self/cgroup").stdout
        rows = [line.split(":", 2) for line in out.split()]
        assert [p for _n, c, p in rows if c == "memory"] == [path + "/submem"]
        assert all(p == path for _n, c, p in rows if c != "memory"), out
        # explicit "/" is the container's own cgroup
        out = rt.ok("exec", "--cgroup", "/", cid, "cat", "/proc/self/cgroup").stdout
        assert all(line.split(":", 2)[2] == path for line in out.split()), out
    else:
        os.mkdir(CG + path + "/sub")
        out = rt.ok("exec", "--cgroup", "sub", cid, "cat", "/proc/self/cgroup").stdout
        assert out.strip().startswith("0::") and out.strip().endswith("/sub"), out
        r = rt.cmd("exec", "--cgroup", "memory:sub", cid, "true")
        assert r.returncode == 255 and "need cgroup v1" in r.stderr, r.stderr
    rt.ok("delete", "--force", cid)
    assert not os.path.exists((mem or CG) + path)


# --- ps -----------------------------------------------------------------------

def test_ps_json_and_table(rt, make_bundle, tmp_path):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    init = rt.state(cid)["pid"]
    r = rt.ok("ps", "--format", "json", cid)
    assert r.stdout == "[%d]\n" % init and r.stderr == ""
    pids = []
    for n in range(2):
        pf = tmp_path / ("e%d.pid" % n)
        rt.ok("exec", "--detach", "--pid-file", pf, cid, "probe", "sleep", "60")
        pids.append(int(pf.read_text()))
    got = json.loads(rt.ok("ps", "--format=json", cid).stdout)
    assert got == sorted([init] + pids)
    assert json.loads(rt.ok("ps", "-f", "json", cid).stdout) == got
    # table: the host's `ps -ef`, header + the container's rows
    lines = rt.ok("ps", cid).stdout.splitlines()
    head = lines[0].split()
    assert "PID" in head and "CMD" in head
    rows = [int(ln.split()[head.index("PID")]) for ln in lines[1:]]
    assert sorted(rows) == got
    assert all("probe sleep 60" in ln for ln in lines[1:])
    # ps arguments after the id, flags included, go to ps
    lines = rt.ok("ps", "--format", "table", cid, "-o", "pid,comm").stdout.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"]
    assert sorted(int(ln.split()[0]) for ln in lines[1:]) == got
    assert all(ln.split()[1] == "probe" for ln in lines[1:])
    r = rt.cmd("ps", cid, "-o", "comm")
    assert r.returncode == 1 and "PID" in r.stderr
    r = rt.cmd("ps", "--format", "yaml", cid)
    assert r.returncode == 1 and "invalid format" in r.stderr
    # stopped: [] and rc 0 (go-runc parses the output)
    rt.ok("kill", cid, "KILL")
    wait_stopped(rt, cid)
    assert wait_for(lambda: rt.ok("ps", "--format", "json", cid).stdout == "[]\n")
    r = rt.ok("ps", "--format", "json", cid)
    assert r.stderr == ""
    assert len(rt.ok("ps", cid).stdout.splitlines()) == 1     # only the header
    rt.ok("delete", cid)
    r = rt.cmd("ps", "--format", "json", cid)
    assert r.returncode == 1 and "container does not exist" in r.stderr and r.stdout == ""


# --- update -------------------------------------------------------------------

def _limits(path):
    return {
        "memory": int(cgread(path, "memory", "memory.limit_in_bytes")),
        "memsw": int(cgread(path, "memory", "memory.memsw.limit_in_bytes"))
        if os.path.exists(cgfile(path, "memory", "memory.memsw.limit_in_bytes")) else None,
        "reservation": int(cgread(path, "memory", "memory.soft_limit_in_bytes")),
        "shares": int(cgread(path, "cpu", "cpu.shares")),
        "quota": int(cgread(path, "cpu", "cpu.cfs_quota_us")),
        "period": int(cgread(path, "cpu", "cpu.cfs_period_us")),
        "pids": cgread(path, "pids", "pids.max"),
    }


@needs_v1("memory", "cpu", "pids")
def test_update_with_docker_and_podman_payloads_and_flags(rt, make_bundle, tmp_path):
    mib = 1 << 20
    b = make_bundle(["probe", "sleep", "60"], resources(
        memory={"limit": 256 * mib, "swap": 512 * mib},
        cpu={"shares": 1024, "quota": 100000, "period": 100000},
        pids={"limit": 100}))
    path = cgroups_path(b)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    start = _limits(path)
    assert start["memory"] == 256 * mib and start["shares"] == 1024 and start["pids"] == "100"
    has_memsw = start["memsw"] is not None

    # dockerd / the containerd shim: `update --resources - <id>` with zeros
    # meaning "not set"
    docker = (CONFIGS / "docker-update-resources.json").read_bytes()
    r = with_stdin(rt, docker, "update", "--resources", "-", cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    now = _limits(path)
    assert now["memory"] == 128 * mib and now["shares"] == 512 and now["pids"] == "77"
    if has_memsw:
        assert now["memsw"] == 256 * mib
    assert now["quota"] == 100000 and now["period"] == 100000     # 0 kept them
    assert now["reservation"] == start["reservation"]

    # flags (runc's spellings), memory suffixes
    rt.ok("update", "--memory", "64m", "--memory-swap", "96M", "--memory-reservation", "32m",
          "--cpu-share", "300", "--cpu-quota", "50000", "--cpu-period", "200000",
          "--pids-limit", "10", cid)
    now = _limits(path)
    assert now["memory"] == 64 * mib and now["reservation"] == 32 * mib
    assert now["shares"] == 300 and now["quota"] == 50000 and now["period"] == 200000
    assert now["pids"] == "10"
    if has_memsw:
        assert now["memsw"] == 96 * mib
    rt.ok("update", "--cpu-shares=400", "--pids-limit=-1", cid)
    now = _limits(path)
    assert now["shares"] == 400 and now["pids"] == "max" and now["memory"] == 64 * mib

    # podman: `update --resources=<file> <id>`
    pf = tmp_path / "podman.json"
    pf.write_bytes((CONFIGS / "podman-update-resources.json").read_bytes())
    rt.ok("update", "--resources=%s" % pf, cid)
    now = _limits(path)
    assert now["memory"] == 128 * mib and now["shares"] == 512
    if has_memsw:
        assert now["memsw"] == 256 * mib
    assert now["pids"] == "max" and now["quota"] == 50000          # untouched

    # -r FILE with only a pids limit; the previous values stay merged
    pf2 = tmp_path / "pids.json"
    pf2.write_text('{"pids": {"limit": 33}}')
    rt.ok("update", "-r", pf2, cid)
    now = _limits(path)
    assert now["pids"] == "33" and now["memory"] == 128 * mib and now["shares"] == 512

    # memory -1 alone: unlimited memory and swap (runc's fs driver rule)
    rt.ok("update", "--memory", "-1", cid)
    now = _limits(path)
    assert now["memory"] >= 1 << 62
    if has_memsw:
        assert now["memsw"] >= 1 << 62

    # a paused container can be updated; it stays paused
    rt.ok("pause", cid)
    rt.ok("update", "--memory", "100m", cid)
    assert _limits(path)["memory"] == 100 * mib
    assert rt.state(cid)["status"] == "paused"
    rt.ok("resume", cid)
    rt.ok("delete", "--force", cid)


@needs_v1("memory", "pids")
def test_update_errors(rt, make_bundle, tmp_path):
    payload = (CONFIGS / "docker-update-resources.json").read_bytes()
    r = with_stdin(rt, payload, "update", "--resources", "-", "nope")
    assert r.returncode == 1 and "container does not exist" in r.stderr
    r = rt.cmd("update", "--memory", "1m", "nope")
    assert r.returncode == 1 and "container does not exist" in r.stderr

    b = make_bundle(["probe", "sleep", "60"], resources(pids={"limit": 50}))
    path = cgroups_path(b)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    for bad, what in ((b"{", "invalid JSON"),
                      (b'{"memory": {"limit": "lots"}}', "/memory/limit"),
                      (b'{"pids": {"limit": 1.5}}', "/pids/limit"),
                      (b"[1]", "")):
        r = with_stdin(rt, bad, "update", "--resources", "-", cid)
        assert r.returncode == 1 and what in r.stderr, (bad, r.stderr)
    r = rt.cmd("update", "--resources", tmp_path / "missing.json", cid)
    assert r.returncode == 1 and "no such file or directory" in r.stderr
    r = rt.cmd("update", "--memory", "12q", cid)
    assert r.returncode == 1 and "invalid value for memory" in r.stderr
    r = rt.cmd("update", "--cpu-period", "-5", cid)
    assert r.returncode == 1 and "invalid value for cpu-period" in r.stderr
    r = rt.cmd("update", "--no-such-flag", "1", cid)
    assert r.returncode == 2
    # the kernel refusing a value (memsw below the limit) is an error too
    if os.path.exists(cgfile(path, "memory", "memory.memsw.limit_in_bytes")):
        r = rt.cmd("update", "--memory", "64m", "--memory-swap", "32m", cid)
        assert r.returncode == 1 and "invalid argument" in r.stderr
    r = rt.cmd("update", "--kernel-memory", "10m", cid)
    assert r.returncode == 0 and "Kernel memory settings are ignored" in r.stderr
    assert cgread(path, "pids", "pids.max") == "50"             # nothing changed
    rt.ok("kill", cid, "KILL")
    wait_stopped(rt, cid)
    r = with_stdin(rt, payload, "update", "--resources", "-", cid)
    assert r.returncode == 1 and "container not running" in r.stderr
    rt.ok("delete", cid)


# --- events -------------------------------------------------------------------

def test_events_stats_has_runcs_keys(rt, make_bundle):
    b = make_bundle(["probe", "sleep", "60"], resources(memory={"limit": 64 << 20}))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    r = rt.ok("events", "--stats", cid)
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and r.stderr == ""
    ev = json.loads(lines[0])
    ref = json.loads((REFERENCE / "events-stats.json").read_text())
    assert list(ev) == ["type", "id", "data"] and ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert set(data) == set(ref["data"])
    for k in ("cpu", "cpuset", "memory"):
        assert set(data[k]) <= set(ref["data"][k]), k
    # per-cpu usage is a v1 file (cpuacct.usage_percpu); v2 has none (runc too)
    want = {"total", "kernel", "user"} | ({"percpu"} if v1_hierarchy("cpuacct") else set())
    assert set(data["cpu"]["usage"]) >= want
    assert {"usage", "swap", "kernel", "raw"} <= set(data["memory"])
    assert data["memory"]["usage"]["limit"] == 64 << 20
    assert data["memory"]["usage"]["usage"] > 0
    assert data["pids"]["current"] == 1
    assert data["cpuset"]["cpus"] and data["network_interfaces"] is None
    rt.ok("delete", "--force", cid)


def test_events_stream_ends_when_the_container_stops(rt, make_bundle, tmp_path):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    out = tmp_path / "events.out"
    with open(out, "w") as f:
        p = subprocess.Popen(PYRUNC + ["--root", rt.root, "events", "--interval=100ms", cid],
                             stdout=f, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: len(out.read_text().splitlines()) >= 3)
        rt.ok("kill", cid, "KILL")
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    evs = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert all(e["type"] == "stats" and e["id"] == cid and "memory" in e["data"]
               for e in evs)
    # a stopped container: runc's error
    r = rt.cmd("events", cid)
    assert r.returncode == 1 and "is not running" in r.stderr
    r = rt.cmd("events", "--stats", cid)
    assert r.returncode == 1 and "is not running" in r.stderr
    rt.ok("delete", cid)
    for args in (["events", "nope"], ["events", "--stats", "nope"]):
        r = rt.cmd(*args)
        assert r.returncode == 1 and "container does not exist" in r.stderr


def test_events_interval_errors(rt, make_bundle):
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    for bad in ("5", "5x", "abc", ""):
        r = rt.cmd("events", "--interval", bad, cid)
        assert r.returncode != 0 and "interval" in r.stderr, bad
    r = rt.cmd("events", "--interval", "0s", cid)
    assert r.returncode == 1 and "greater than 0" in r.stderr
    rt.ok("delete", "--force", cid)


@needs_v1("memory")
def test_oom_kill_is_reported_by_events(rt, make_bundle, tmp_path):
    mib = 1 << 20
    b = make_bundle(["probe", "sleep", "60"],
                    resources(memory={"limit": 24 * mib, "swap": 24 * mib}))
    path = cgroups_path(b)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    out = tmp_path / "events.out"
    with open(out, "w") as f:
        p = subprocess.Popen(PYRUNC + ["--root", rt.root, "events", "--interval", "200ms", cid],
                             stdout=f, stderr=subprocess.STDOUT)
    try:
        # the first stats line comes after the OOM watch is set up
        assert wait_for(lambda: out.read_text().count("\n") >= 1)
        # dd's 100 MiB buffer does not fit in 24 MiB: the OOM killer ends it
        r = rt.cmd("exec", cid, "dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1")
        assert r.returncode == 137, (r.returncode, r.stderr)
        assert wait_for(lambda: '"type":"oom"' in out.read_text(), timeout=5)
        oom_kill = [ln.split() for ln in cgread(path, "memory", "memory.oom_control").splitlines()]
        assert ["oom_kill", "1"] in oom_kill
        assert rt.state(cid)["status"] == "running"      # only dd died
        rt.ok("kill", cid, "KILL")
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    evs = [json.loads(ln) for ln in out.read_text().splitlines()]
    ooms = [e for e in evs if e["type"] == "oom"]
    assert ooms == [{"type": "oom", "id": cid}]
    rt.ok("delete", cid)


def test_oom_kill_of_the_init_ends_the_stream_after_the_oom_event(rt, make_bundle, tmp_path):
    mib = 1 << 20
    b = make_bundle(["sh", "-c", "read x < /go/fifo; dd if=/dev/zero of=/dev/null bs=100M"],
                    edits(resources(memory={"limit": 24 * mib, "swap": 24 * mib}),
                          bind(tmp_path / "go", "/go")))
    (tmp_path / "go").mkdir()
    os.mkfifo(tmp_path / "go" / "fifo")
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    out = tmp_path / "events.out"
    with open(out, "w") as f:
        p = subprocess.Popen(PYRUNC + ["--root", rt.root, "events", "--interval", "100ms", cid],
                             stdout=f, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: out.read_text().count("\n") >= 1)
        fd = os.open(tmp_path / "go" / "fifo", os.O_WRONLY)
        os.write(fd, b"go\n")
        os.close(fd)
        assert p.wait(timeout=15) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    evs = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert {"type": "oom", "id": cid} in evs
    wait_stopped(rt, cid)
    rt.ok("delete", cid)


# --- limits set at create, seen from inside -----------------------------------

@needs_v1("pids")
def test_fork_bomb_stops_at_the_pids_limit(rt, make_bundle):
    b = make_bundle(["probe", "sleep", "60"], resources(pids={"limit": 16}))
    path = cgroups_path(b)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    assert cgread(path, "pids", "pids.max") == "16"
    # a loop forking sleeps until fork fails
    r = rt.cmd("exec", cid, "sh", "-c",
               "i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; wait")
    assert "can't fork" in r.stderr, (r.returncode, r.stderr)
    pids = json.loads(rt.ok("ps", "--format", "json", cid).stdout)
    assert 12 <= len(pids) <= 16          # it got to the limit, not past it
    assert int(cgread(path, "pids", "pids.current")) <= 16
    events = dict(ln.split() for ln in cgread(path, "pids", "pids.events").splitlines())
    assert int(events["max"]) > 0
    # update raises the limit: forks work again
    rt.ok("update", "--pids-limit", "200", cid)
    r = rt.ok("exec", cid, "sh", "-c", "i=0; while [ $i -lt 30 ]; do sleep 30 & "
              "i=$((i+1)); done; echo forked")
    assert r.stdout.strip() == "forked"
    assert len(json.loads(rt.ok("ps", "--format", "json", cid).stdout)) > 16
    rt.ok("delete", "--force", cid)


@needs_v1("devices")
def test_v1_device_rules_deny_dev_mem(rt, make_bundle):
    def caps(cfg):
        for k in ("bounding", "effective", "permitted"):
            cfg["process"]["capabilities"][k].append("CAP_MKNOD")
    script = ("mknod /dev/mem c 1 1 && echo made; probe open /dev/mem; "
              "probe open /dev/null w; mknod /dev/sda b 8 0 && probe open /dev/sda")
    b = make_bundle(["sh", "-c", script], caps)
    path = cgroups_path(b)
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    rules = cgread(path, "devices", "devices.list").splitlines()
    assert "a *:* rwm" not in rules and "c 1:3 rwm" in rules
    assert not any(r.startswith("c 1:1 ") for r in rules)
    rt.ok("delete", "--force", cid)
    r = rt.ok("run", "--bundle", b, unique_id())
    # mknod is allowed (c *:* m), open is not: EPERM (1)
    assert r.stdout.split("\n")[:4] == ["made", "ERR 1", "OK", "ERR 1"], r.stdout + r.stderr
