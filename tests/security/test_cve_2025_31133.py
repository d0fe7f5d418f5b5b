"""CVE-2025-31133: maskedPaths bind the *container's* /dev/null, which an
attacker can make a symlink to a procfs file (a writable alias of
/proc/sys/kernel/core_pattern over /proc/kcore) or a regular file.

The attacker-controlled /dev is emulated with a bind of a host directory
at /dev (no /dev tmpfs). Either create fails closed, or every masked file
that exists is the null device (char 1:3), core_pattern stays unwritable
inside and unchanged on the host.

(This kernel may lack /proc/kcore and /proc/sysrq-trigger; every entry of
the default maskedPaths that exists is checked.)
"""
import os

import pytest

from secutil import drop_mounts, tree, unique_id, weak_env

MASKED_FILES = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/latency_stats",
                "/proc/timer_stats", "/proc/sched_debug"]
CORE = "/proc/sys/kernel/core_pattern"
SCRIPT = ("for p in %s; do [ -e $p ] && echo \"MASK $p $(stat -c '%%F %%t:%%T' $p)\"; done; "
          "echo \"WMASK $(for p in %s; do [ -e $p ] && probe open $p w; done | sort -u)\"; "
          "echo \"CORE $(probe open %s w)\"" % (" ".join(MASKED_FILES), " ".join(MASKED_FILES),
                                                CORE))


def hostile_dev_bundle(make_bundle, tmp_path, null):
    dev = tmp_path / "hostdev"
    dev.mkdir()
    if null == "symlink":
        os.symlink(CORE, dev / "null")
    elif null == "regular":
        (dev / "null").write_text("not a device\n")

    def edit(c):
        drop_mounts(c, "/dev")
        c["mounts"].append({"destination": "/dev", "type": "bind", "source": str(dev),
                            "options": ["rbind"]})
    return make_bundle(["sh", "-c", SCRIPT], edit), dev


def core_pattern():
    with open(CORE) as f:
        return f.read()


def parse(out):
    mask = [l.split(" ", 2)[1:] for l in out.splitlines() if l.startswith("MASK ")]
    wmask = [l for l in out.splitlines() if l.startswith("WMASK ")]
    core = [l for l in out.splitlines() if l.startswith("CORE ")]
    return mask, wmask, core


@pytest.mark.parametrize("null", ["symlink", "regular", "absent"])
def test_masked_paths_use_the_real_null_device(rt, make_bundle, tmp_path, null):
    b, dev = hostile_dev_bundle(make_bundle, tmp_path, null)
    before_core = core_pattern()
    before_dev = tree(dev)
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert core_pattern() == before_core
    if r.returncode != 0:
        assert rt.ids() == []
    else:
        mask, _wmask, core = parse(r.stdout)
        assert mask, "no masked file found: %s" % r.stdout
        for path, what in mask:
            assert what == "character special file 1:3", (path, what)
        assert core and core[0].startswith("CORE ERR"), "core_pattern is writable: %s" % core
    # the runtime did not replace the attacker's /dev/null (nor follow it)
    assert tree(dev) == before_dev


def test_default_dev_masks_with_null_and_readonly_tmpfs(rt, make_bundle):
    """Positive control with the default /dev tmpfs: files are 1:3, masked
    directories are empty read-only tmpfs."""
    b = make_bundle(["sh", "-c", SCRIPT + "; for d in /proc/acpi /proc/scsi /sys/firmware; do "
                     "[ -d $d ] && echo \"DIR $d $(ls -A $d | wc -l) "
                     "$(touch $d/x 2>/dev/null && echo rw || echo ro)\"; done"])
    r = rt.ok("run", "--bundle", b, unique_id())
    mask, _w, core = parse(r.stdout)
    assert mask and all(what == "character special file 1:3" for _p, what in mask), mask
    assert core[0].startswith("CORE ERR")
    for line in r.stdout.splitlines():
        if line.startswith("DIR "):
            _, d, n, mode = line.split()
            assert (n, mode) == ("0", "ro"), line


def test_masked_paths_weakened_build_is_caught(rt, make_bundle, tmp_path):
    """A pyrunc that masks with the container's /dev/null (following the
    attacker's symlink) puts a writable alias of the host's core_pattern over
    the masked files: the first test would fail. Nothing is written."""
    b, _dev = hostile_dev_bundle(make_bundle, tmp_path, "symlink")
    before_core = core_pattern()
    r = rt.cmd("run", "--bundle", b, unique_id(), env=weak_env("devnull"))
    assert core_pattern() == before_core
    assert r.returncode == 0, r.stderr
    mask, wmask, _core = parse(r.stdout)
    assert mask and any(what != "character special file 1:3" for _p, what in mask), r.stdout
    # the alias opens for writing (the capability the attack needs)
    assert wmask == ["WMASK OK"], r.stdout
