SYNOPSIS = "[command options] <container-id> [ps options]"
DESCRIPTION = ("Display the processes of a container: with --format json a JSON list of "
               "their host pids, else the host's `ps` output (default `ps -ef`) "
               "filtered to them.")
FLAGS = (
    (("--format", "-f"), "str", "format", "table (default) or json"),
)
NARGS = (1, None)
STOP_AT = 1          # everything after the id goes to ps, flags included


def run(ctx, opts, args):
    import sys
    from pyrunc.errors import PyruncError
    from pyrunc.lifecycle.ps import container_pids
    fmt = opts["format"] or "table"
    if fmt not in ("table", "json"):
        raise PyruncError("invalid format option")   # runc: exit 1
    pids = container_pids(ctx, args[0])
    if fmt == "json":
        sys.stdout.write("[" + ",".join(str(p) for p in pids) + "]\n")
        return 0
    from pyrunc.lifecycle.ps import table
    ps_args = args[1:]
    if ps_args[:1] == ["--"]:
        ps_args = ps_args[1:]
    sys.stdout.write(table(pids, ps_args))
    return 0
