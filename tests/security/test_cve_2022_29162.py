"""CVE-2022-29162: inheritable capabilities from `spec` and `exec --cap`.

Non-empty inheritable caps let file capabilities raise privileges at
execve; `pyrunc spec` must emit none, a config without them must give
CapInh 0 / CapAmb 0, and `exec --cap` must add to bounding/effective/
permitted only.
"""
import json
import subprocess

from secutil import PYRUNC, unique_id

CAP_NET_RAW = 13


def caps(text):
    return {l.split(":")[0]: int(l.split()[1], 16) for l in text.splitlines()
            if l.startswith("Cap")}


def test_spec_has_no_inheritable_or_ambient_caps(tmp_path):
    subprocess.run(PYRUNC + ["spec", "--bundle", str(tmp_path)], check=True)
    c = json.loads((tmp_path / "config.json").read_text())["process"]["capabilities"]
    assert not c.get("inheritable")
    assert not c.get("ambient")


def test_config_without_inheritable_gives_zero_inheritable_and_ambient(rt, make_bundle):
    def edit(c):
        c["process"]["capabilities"] = {k: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                                        for k in ("bounding", "effective", "permitted")}
    b = make_bundle(["probe", "status"], edit)
    st = caps(rt.ok("run", "--bundle", b, unique_id()).stdout)
    assert st["CapInh"] == 0 and st["CapAmb"] == 0
    assert st["CapEff"] == st["CapPrm"] == st["CapBnd"] == (1 << 0) | (1 << 5) | (1 << 10)


def test_exec_cap_adds_no_inheritable(rt, make_bundle):
    b = make_bundle(["probe", "sleep", "30"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    try:
        st = caps(rt.ok("exec", "--cap", "CAP_NET_RAW", cid, "probe", "status").stdout)
        assert st["CapInh"] == 0 and st["CapAmb"] == 0
        for k in ("CapEff", "CapPrm", "CapBnd"):
            assert st[k] & (1 << CAP_NET_RAW), (k, hex(st[k]))
        # without --cap it is not there
        st = caps(rt.ok("exec", cid, "probe", "status").stdout)
        assert not st["CapEff"] & (1 << CAP_NET_RAW)
    finally:
        rt.cmd("delete", "--force", cid)
