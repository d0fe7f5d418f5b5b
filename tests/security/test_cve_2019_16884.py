"""CVE-2019-16884 and CVE-2025-52881: writes under /proc redirected by a
fake or swapped /proc.

The bundle shadows the container's /proc (a bind of a host directory full
of fake files, a tmpfs) or /proc/sys (a bind of fake sysctl files). The
runtime's sysctl and oomScoreAdj writes must land in the *real* procfs of
the container (observed through a second, genuine proc mount at /realproc)
and the fake files on the host must stay untouched - or create must fail
closed. Host sysctls must not change either.
"""
import json

import pytest

from secutil import tree, unique_id

SYSCTL = {"kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1"}
OOM = 123
READ_REAL = ("cat /realproc/sys/kernel/shm_rmid_forced /realproc/sys/net/ipv4/ip_forward "
             "/realproc/self/oom_score_adj")


def fake_proc(root):
    """A procfs look-alike: the files the runtime writes, with decoy values."""
    for rel, val in {
        "sys/kernel/shm_rmid_forced": "0\n", "sys/net/ipv4/ip_forward": "0\n",
        "sys/kernel/core_pattern": "fake\n", "self/oom_score_adj": "0\n",
        "1/oom_score_adj": "0\n", "self/attr/current": "unconfined\n",
        "self/attr/exec": "\n", "thread-self/attr/exec": "\n", "sysrq-trigger": "",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(val)
    return root


def host_values():
    out = {}
    for k in ("kernel/shm_rmid_forced", "net/ipv4/ip_forward", "kernel/core_pattern"):
        with open("/proc/sys/" + k) as f:
            out[k] = f.read()
    with open("/proc/self/oom_score_adj") as f:
        out["oom"] = f.read()
    return out


def shadow_config(kind, fake):
    def edit(c):
        c["linux"]["sysctl"] = dict(SYSCTL)
        c["process"]["oomScoreAdj"] = OOM
        m = c["mounts"]
        i = next(n for n, x in enumerate(m) if x["destination"] == "/proc") + 1
        if kind == "bind-proc":
            m.insert(i, {"destination": "/proc", "type": "bind", "source": str(fake),
                         "options": ["rbind"]})
        elif kind == "tmpfs-proc":
            m.insert(i, {"destination": "/proc", "type": "tmpfs", "source": "tmpfs",
                         "options": ["size=1m"]})
        elif kind == "bind-proc-sys":
            m.insert(i, {"destination": "/proc/sys", "type": "bind",
                         "source": str(fake / "sys"), "options": ["rbind"]})
        m.append({"destination": "/realproc", "type": "proc", "source": "proc"})
    return edit


@pytest.mark.parametrize("kind", ["bind-proc", "tmpfs-proc", "bind-proc-sys"])
def test_sysctl_and_oom_writes_land_in_the_real_procfs(rt, make_bundle, tmp_path, kind):
    fake = fake_proc(tmp_path / "fakeproc")
    before_fake = tree(fake)
    before_host = host_values()
    b = make_bundle(["sh", "-c", READ_REAL], shadow_config(kind, fake))
    r = rt.cmd("run", "--bundle", b, unique_id())
    if r.returncode == 0:
        assert r.stdout.split() == ["1", "1", str(OOM)], (r.stdout, r.stderr)
    else:
        assert rt.ids() == [], "a failed create left state"
    assert tree(fake) == before_fake, "a write went to the fake /proc on the host"
    assert host_values() == before_host


def test_exec_oom_score_adj_lands_in_the_real_procfs(rt, make_bundle, tmp_path):
    """exec writes oomScoreAdj through its own procfs handle too."""
    fake = fake_proc(tmp_path / "fakeproc")
    before_fake = tree(fake)
    b = make_bundle(["probe", "sleep", "30"], shadow_config("bind-proc", fake))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    try:
        proc = {"args": ["cat", "/realproc/self/oom_score_adj"], "cwd": "/",
                "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"], "oomScoreAdj": 77}
        pf = tmp_path / "process.json"
        pf.write_text(json.dumps(proc))
        r = rt.ok("exec", "--process", pf, cid)
        assert r.stdout.split() == ["77"]
    finally:
        rt.cmd("delete", "--force", cid)
    assert tree(fake) == before_fake


@pytest.mark.parametrize("dest", ["/proc/sys/kernel", "/proc/sysrq-trigger", "/proc/self/attr"])
def test_mounts_inside_proc_do_not_redirect_writes(rt, make_bundle, tmp_path, dest):
    """A bind inside /proc (T-FAKEPROC step 3): fail closed, or the
    sysctl still lands in the real procfs and the host file is untouched."""
    fake = fake_proc(tmp_path / "fakeproc")
    src = fake / dest[len("/proc/"):]
    before_fake = tree(fake)
    before_host = host_values()

    def edit(c):
        c["linux"]["sysctl"] = dict(SYSCTL)
        c["process"]["oomScoreAdj"] = OOM
        c["mounts"].append({"destination": dest, "type": "bind", "source": str(src),
                            "options": ["rbind"]})
        c["mounts"].append({"destination": "/realproc", "type": "proc", "source": "proc"})
    b = make_bundle(["sh", "-c", READ_REAL], edit)
    r = rt.cmd("run", "--bundle", b, unique_id())
    if r.returncode == 0:
        assert r.stdout.split() == ["1", "1", str(OOM)], (r.stdout, r.stderr)
    assert tree(fake) == before_fake
    assert host_values() == before_host
