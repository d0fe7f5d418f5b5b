"""Issue 4: capabilities, no_new_privs, rlimits, masked and read-only
paths, checked from inside the container with the probe."""
import pytest

from conftest import unique_id
from pyrunc.linux.capabilities import BIT


def status(out):
    return {l.split(":")[0]: l.split(":")[1].strip() for l in out.splitlines() if ":" in l}


def mask(*names):
    m = 0
    for n in names:
        m |= 1 << BIT[n]
    return "%016x" % m


def test_all_five_capability_sets_exactly(rt, make_bundle):
    def edit(c):
        c["process"]["capabilities"] = {
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETPCAP"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "inheritable": ["CAP_NET_RAW", "CAP_KILL"],
            "ambient": ["CAP_NET_RAW"],
        }
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["noNewPrivileges"] = True
    b = make_bundle(["probe", "status"], edit)
    st = status(rt.ok("run", "--bundle", b, unique_id()).stdout)
    assert st["CapBnd"] == mask("CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETPCAP")
    assert st["CapInh"] == mask("CAP_NET_RAW", "CAP_KILL")
    # a non-root exec keeps only the ambient set in P and E
    assert st["CapPrm"] == mask("CAP_NET_RAW")
    assert st["CapEff"] == mask("CAP_NET_RAW")
    assert st["CapAmb"] == mask("CAP_NET_RAW")
    assert st["NoNewPrivs"] == "1"


def test_root_process_caps_and_no_inheritable(rt, make_bundle):
    """CVE-2022-29162: no inheritable set unless asked."""
    b = make_bundle(["probe", "status"])        # pyrunc spec's three caps, NNP on
    st = status(rt.ok("run", "--bundle", b, unique_id()).stdout)
    three = mask("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
    assert st["CapBnd"] == st["CapPrm"] == st["CapEff"] == three
    assert st["CapInh"] == st["CapAmb"] == "0" * 16
    assert st["NoNewPrivs"] == "1"


def test_unknown_capability_is_a_warning_not_an_error(rt, make_bundle):
    """runtime-spec: a runtime SHOULD NOT fail on capabilities it cannot
    grant; runc warns about names it does not know and runs."""
    def edit(c):
        c["process"]["capabilities"]["bounding"].append("CAP_TEST")
        c["process"]["args"] = ["sh", "-c", "grep CapBnd /proc/self/status"]
    r = rt.cmd("run", "--bundle", make_bundle(["true"], edit), unique_id())
    assert r.returncode == 0, r.stderr
    assert "ignoring unknown or unavailable capabilities: CAP_TEST" in r.stderr
    assert r.stdout.split()[1] == mask("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")


def test_capability_the_host_cannot_grant_is_dropped_with_a_warning(rt, make_bundle):
    from pyrunc.linux.capabilities import host_permitted
    if host_permitted() >> BIT["CAP_SYS_RESOURCE"] & 1:
        pytest.skip("this host can grant CAP_SYS_RESOURCE")

    def edit(c):
        for s in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][s].append("CAP_SYS_RESOURCE")
    r = rt.ok("run", "--bundle", make_bundle(["probe", "status"], edit), unique_id())
    assert "CAP_SYS_RESOURCE" in r.stderr and "warning" in r.stderr
    assert status(r.stdout)["CapEff"] == mask("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")


def test_ambient_caps_outside_inheritable_are_named_in_a_warning(rt, make_bundle):
    def edit(c):
        c["process"]["capabilities"]["inheritable"] = ["CAP_KILL"]
        c["process"]["capabilities"]["ambient"] = ["CAP_KILL", "CAP_CHOWN"]
        c["process"]["capabilities"]["permitted"].append("CAP_CHOWN")
    r = rt.ok("run", "--bundle", make_bundle(["probe", "status"], edit), unique_id())
    assert "can't raise ambient capability CAP_CHOWN: " in r.stderr
    assert "CAP_KILL" not in r.stderr
    assert status(r.stdout)["CapAmb"] == mask("CAP_KILL")


def test_exec_cap_goes_to_ambient_only_with_an_inheritable_set(rt, make_bundle):
    """`exec --cap X`: bounding, effective, permitted; also ambient where the
    config has an inheritable set, so X reaches the process only if it is
    inheritable (runc); never inheritable itself (CVE-2022-29162)."""
    def edit(c):
        c["process"]["capabilities"] = {
            "inheritable": ["CAP_CHOWN", "CAP_SYSLOG"], "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "effective": ["CAP_KILL"], "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_SYSLOG"],
            "ambient": ["CAP_CHOWN"]}
        c["process"]["noNewPrivileges"] = False
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", make_bundle(["sleep", "1000"], edit), cid)
    st = status(rt.ok("exec", cid, "probe", "status").stdout)
    assert st["CapAmb"] == mask("CAP_CHOWN")
    st = status(rt.ok("exec", "--cap", "CAP_SYSLOG", cid, "probe", "status").stdout)
    assert st["CapInh"] == mask("CAP_CHOWN", "CAP_SYSLOG")
    assert st["CapPrm"] == mask("CAP_KILL", "CAP_CHOWN", "CAP_SYSLOG")
    assert st["CapAmb"] == mask("CAP_CHOWN", "CAP_SYSLOG")
    rt.ok("delete", "--force", cid)


def test_no_new_privileges_off(rt, make_bundle):
    def edit(c):
        c["process"]["noNewPrivileges"] = False
    st = status(rt.ok("run", "--bundle", make_bundle(["probe", "status"], edit), unique_id()).stdout)
    assert st["NoNewPrivs"] == "0"


def test_every_rlimit_that_can_be_set(rt, make_bundle):
    # (lowering only: raising a hard limit needs CAP_SYS_RESOURCE, missing here)
    limits = {"RLIMIT_AS": (1 << 33, 1 << 34), "RLIMIT_CORE": (0, 1024),
              "RLIMIT_CPU": (100, 200), "RLIMIT_DATA": (1 << 32, 1 << 33),
              "RLIMIT_FSIZE": (1 << 30, 1 << 31), "RLIMIT_LOCKS": (100, 200),
              "RLIMIT_MEMLOCK": (65536, 65536), "RLIMIT_MSGQUEUE": (4096, 8192),
              "RLIMIT_NICE": (0, 0), "RLIMIT_NOFILE": (100, 200), "RLIMIT_NPROC": (500, 1000),
              "RLIMIT_RSS": (1 << 30, 1 << 31), "RLIMIT_RTPRIO": (0, 0),
              "RLIMIT_RTTIME": (10000, 20000), "RLIMIT_SIGPENDING": (100, 200),
              "RLIMIT_STACK": (1 << 22, 1 << 23)}

    def edit(c):
        c["process"]["rlimits"] = [{"type": k, "soft": s, "hard": h} for k, (s, h) in limits.items()]
    out = rt.ok("run", "--bundle", make_bundle(["probe", "rlimits"], edit), unique_id()).stdout
    got = {l.split()[0]: (int(l.split()[1]), int(l.split()[2])) for l in out.splitlines()}
    assert got == limits


def test_low_rlimit_as_does_not_break_setup(rt, make_bundle):
    """Rlimits are applied last, after everything memory-hungry in pyrunc."""
    def edit(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_AS", "soft": 16 << 20, "hard": 16 << 20},
                                   {"type": "RLIMIT_NOFILE", "soft": 4, "hard": 4}]
    r = rt.ok("run", "--bundle", make_bundle(["probe", "status"], edit), unique_id())
    assert "NoNewPrivs" in r.stdout


def test_masked_and_readonly_paths(rt, make_bundle):
    b = make_bundle(["sh", "-c",
                     "stat -c '%F %t:%T' /proc/keys; ls /proc/acpi 2>/dev/null | wc -l; "
                     "echo 1 > /proc/sysrq-trigger 2>/dev/null && echo w || echo ro; "
                     "touch /proc/acpi/x 2>/dev/null && echo w || echo ro; "
                     "grep -E ' /proc/(sys|kcore) ' /proc/self/mountinfo | awk '{print $5, $6}'"])
    out = rt.ok("run", "--bundle", b, unique_id()).stdout.splitlines()
    assert out[0] == "character special file 1:3"
    assert out[1] == "0" and out[2] == "ro" and out[3] == "ro"
    mounts = dict(l.split() for l in out[4:])
    assert mounts["/proc/sys"].startswith("ro")


def test_large_stack_limit_survives_the_helpers_exec(rt, make_bundle):
    """The init helper's own execve can be a secure one (it keeps the
    process non-dumpable), which clamps RLIMIT_STACK to 8 MiB: the limits
    must be applied after it (runtime-tools process_rlimits caught this)."""
    import resource
    if resource.getrlimit(resource.RLIMIT_STACK)[1] not in (resource.RLIM_INFINITY,) and \
            resource.getrlimit(resource.RLIMIT_STACK)[1] < 1 << 31:
        pytest.skip("the host's hard stack limit is too low")

    def edit(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_STACK", "soft": 1 << 30, "hard": 1 << 31}]
    out = rt.ok("run", "--bundle", make_bundle(["probe", "rlimits"], edit), unique_id()).stdout
    assert "RLIMIT_STACK %d %d" % (1 << 30, 1 << 31) in out.splitlines()


def test_masked_paths_once_each_and_directories_share_one_tmpfs(rt, make_bundle):
    """A path listed twice is masked once; masked directories are one
    read-only tmpfs, bound at each (runc's mask.bats)."""
    def edit(c):
        c["linux"]["maskedPaths"] = ["/m1", "/m2", "/m1/", "/m3", "/proc/kcore"]
    b = make_bundle(["sh", "-c", "grep -c ' /m[123] ' /proc/self/mountinfo; "
                     "stat -c %d /m1 /m2 /m3 | sort -u | wc -l; ls /m1 | wc -l; "
                     "touch /m2/x 2>/dev/null && echo writable || echo readonly"], edit)
    for d in ("m1", "m2", "m3"):
        (b / "rootfs" / d).mkdir()
        (b / "rootfs" / d / "secret").write_text("s")
    out = rt.ok("run", "--bundle", b, unique_id()).stdout.split()
    assert out == ["3", "1", "0", "readonly"]
