"""ps: the host pids of a container's cgroup, or the host `ps` output
filtered to them (runc's table format)."""
from pyrunc.errors import PyruncError
from pyrunc.lifecycle.common import cgroup_manager
from pyrunc.state import Store


def container_pids(ctx, cid):
    """Sorted host pids of every process in the container's cgroup. A
    stopped container (its cgroup empty or gone) gives []."""
    c = Store(ctx.root).load(cid)
    mgr = cgroup_manager(c)
    if mgr is None:
        # no cgroup recorded: only the init is known
        return [] if c.status() == "stopped" else [c.pid]
    from pyrunc.linux.cgroups import CgroupError
    try:
        return mgr.pids()
    except CgroupError as e:
        raise PyruncError("unable to get all container pids: %s" % e) from None


def table(pids, ps_args):
    """Run the host ps with ps_args (default -ef); keep the header and the
    rows whose PID column is one of pids. Returns the text to print."""
    import subprocess
    try:
        p = subprocess.run(["ps"] + list(ps_args or ["-ef"]), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        raise PyruncError('exec: "ps": %s' % (e.strerror or str(e)).lower()) from None
    output = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise PyruncError("exit status %d: %s" % (p.returncode, output.rstrip("\n")))
    lines = output.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise PyruncError("couldn't find PID field in ps output")
    idx = titles.index("PID")
    want = set(pids)
    out = [lines[0]]
    for line in lines[1:]:
        if not line:
            continue
        fields = line.split()
        try:
            p = int(fields[idx])
        except (IndexError, ValueError):
            raise PyruncError("unable to parse pid: %r" % line) from None
        if p in want:
            out.append(line)
    return "\n".join(out) + "\n"
