SYNOPSIS = "[command options]"
DESCRIPTION = "List the containers under --root."
FLAGS = (
    (("--format", "-f"), "str", "format", "table or json"),
    (("--quiet", "-q"), "bool", "quiet", "print only the ids"),
)
NARGS = 0


def run(ctx, opts, args):
    import os
    import sys
    from pyrunc.errors import NotFound, PyruncError, UsageError
    from pyrunc.state import Store
    fmt = opts["format"] or "table"
    if fmt not in ("table", "json"):
        raise UsageError("invalid format option: %s" % fmt)
    store = Store(ctx.root)
    if ctx.root_given and not os.path.isdir(store.root):
        # the default root may not exist yet (nothing created); a root the
        # caller named must (runc)
        raise PyruncError("open %s: no such file or directory" % store.root)
    ids = store.ids()
    if opts["quiet"]:
        sys.stdout.write("".join(i + "\n" for i in ids))
        return 0
    states = []
    for i in ids:
        try:
            states.append(store.load(i).state_json())
        except NotFound:
            continue
    if fmt == "json":
        from pyrunc.fastjson import dumps
        sys.stdout.write(dumps(states) + "\n")
        return 0
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"],
              s["owner"] or _owner(store, s["id"])) for s in states]
    widths = [max(len(r[k]) for r in rows) for k in range(6)]
    for r in rows:
        sys.stdout.write("   ".join(v.ljust(widths[k]) for k, v in enumerate(r)).rstrip() + "\n")
    return 0


def _owner(store, cid):
    """runc's OWNER: the user owning the container's state dir."""
    import os
    import pwd
    try:
        uid = os.stat(os.path.join(store.root, cid)).st_uid
    except OSError:
        return "root"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "#%d" % uid
