SYNOPSIS = "[command options] <container-id>"
DESCRIPTION = """Update the resource limits of a container.

With --resources, a LinuxResources JSON document (from a file, or stdin
for "-") is applied and the other flags are ignored, e.g.
   {"memory": {"limit": 134217728, "swap": 268435456},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    "pids": {"limit": 100}, "blockIO": {"weight": 500}}
0 or an absent field keeps the current value. Memory values of the flags
accept k, m, g suffixes (binary); -1 means unlimited."""
FLAGS = (
    (("--resources", "-r"), "str", "resources",
     "path to a LinuxResources JSON file, or - for stdin"),
    (("--memory",), "str", "memory", "memory limit (in bytes)"),
    (("--memory-reservation",), "str", "memory_reservation", "memory soft limit (in bytes)"),
    (("--memory-swap",), "str", "memory_swap",
     "total memory + swap limit; -1 for unlimited swap"),
    (("--kernel-memory",), "str", "kernel_memory", "(obsolete, ignored)"),
    (("--kernel-memory-tcp",), "str", "kernel_memory_tcp", "(obsolete, ignored)"),
    (("--cpu-shares", "--cpu-share"), "str", "cpu_shares", "CPU shares (relative weight)"),
    (("--cpu-quota",), "str", "cpu_quota", "CPU CFS quota (usecs per period)"),
    (("--cpu-period",), "str", "cpu_period", "CPU CFS period (usecs)"),
    (("--cpu-burst",), "str", "cpu_burst", "CPU CFS burst (usecs)"),
    (("--cpu-rt-period",), "str", "cpu_rt_period", "CPU realtime period (usecs)"),
    (("--cpu-rt-runtime",), "str", "cpu_rt_runtime", "CPU realtime runtime (usecs)"),
    (("--cpuset-cpus",), "str", "cpuset_cpus", "CPUs to use (e.g. 0-2,4)"),
    (("--cpuset-mems",), "str", "cpuset_mems", "memory nodes to use"),
    (("--cpu-idle",), "str", "cpu_idle", "1 to make the cgroup SCHED_IDLE, 0 to not"),
    (("--pids-limit",), "str", "pids_limit", "maximum number of pids (-1: unlimited)"),
    (("--blkio-weight",), "str", "blkio_weight", "block IO weight (10-1000)"),
    (("--l3-cache-schema",), "str", "l3_cache_schema", "Intel RDT L3 schema (unsupported)"),
    (("--mem-bw-schema",), "str", "mem_bw_schema", "Intel RDT MBA schema (unsupported)"),
)
NARGS = 1


def run(ctx, opts, args):
    from pyrunc import log
    from pyrunc.lifecycle.update import resources_from_flags, update
    path = opts["resources"]
    if path:
        update(ctx, args[0], resources_path=path, warn=log.warn)
    else:
        update(ctx, args[0], doc=resources_from_flags(opts), warn=log.warn)
    return 0
