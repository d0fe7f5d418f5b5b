SYNOPSIS = "[command options]"
DESCRIPTION = "List the containers under --root."
FLAGS = (
    (("--format", "-f"), "str", "format", "table or json"),
    (("--quiet", "-q"), "bool", "quiet", "print only the ids"),
)
NARGS = 0


def run(ctx, opts, args):
    import sys
    from pyrunc.api import Runtime
    from pyrunc.errors import UsageError
    fmt = opts["format"] or "table"
    if fmt not in ("table", "json"):
        raise UsageError("invalid format option: %s" % fmt)
    rt = Runtime.from_ctx(ctx)
    if opts["quiet"]:
        sys.stdout.write("".join(i + "\n" for i in rt.ids()))
        return 0
    states = rt.list()
    if fmt == "json":
        from pyrunc.fastjson import dumps
        sys.stdout.write(dumps(states) + "\n")
        return 0
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"],
              s["owner"] or _owner(rt.root, s["id"])) for s in states]
    widths = [max(len(r[k]) for r in rows) for k in range(6)]
    for r in rows:
        sys.stdout.write("   ".join(v.ljust(widths[k]) for k, v in enumerate(r)).rstrip() + "\n")
    return 0


def _owner(root, cid):
    """runc's OWNER: the user owning the container's state dir."""
    import os
    import pwd
    try:
        uid = os.stat(os.path.join(root, cid)).st_uid
    except OSError:
        return "root"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "#%d" % uid
