"""systemd cgroup driver (``--systemd-cgroup``): a stub.

pyrunc drives cgroupfs directly.  When asked for the systemd driver it
fails clearly: first because systemd is not running (no /run/systemd/system),
otherwise because the driver is not implemented.  cgroupsPath would then be
``slice:prefix:name``; ``parse_path`` splits it for callers' messages.
"""

import os

SYSTEMD_RUN_DIR = "/run/systemd/system"


def parse_path(p):
    """'system.slice:pyrt:r2' -> ('system.slice', 'pyrt', 'r2')"""
    from pyrunc.linux.cgroups import CgroupError
    parts = (p or "").split(":")
    if len(parts) != 3:
        raise CgroupError("expected cgroupsPath of the form slice:prefix:name "
                          "with --systemd-cgroup, got %r" % p)
    return tuple(parts)


def check(run_dir=SYSTEMD_RUN_DIR):
    from pyrunc.linux.cgroups import CgroupError
    if not os.path.isdir(run_dir):
        raise CgroupError("systemd cgroup driver requested but systemd is not running")
    raise CgroupError("systemd cgroup driver requested but pyrunc implements "
                      "only the cgroupfs driver (run without --systemd-cgroup)")
