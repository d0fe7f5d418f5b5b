SYNOPSIS = "[command options]"
DESCRIPTION = ("Check a bundle without running it: config.json against runtime-spec "
               "v1.3.0 and everything create checks before it starts (rootfs, "
               "namespaces, capabilities, rlimits, sysctls, devices, seccomp...). Every "
               "problem is reported, one line each with its JSON path; exit status 1 if "
               "there is any.")
FLAGS = (
    (("--bundle", "-b"), "str", "bundle", "path to the bundle directory (default: cwd)"),
    (("--format", "-f"), "str", "format", "text (default) or json (a list of problems)"),
)
NARGS = 0


def run(ctx, opts, args):
    import sys
    from pyrunc.errors import UsageError
    from pyrunc.api import Runtime
    from pyrunc.errors import InvalidBundle
    fmt = opts["format"] or "text"
    if fmt not in ("text", "json"):
        raise UsageError("validate: invalid format %r (text or json)" % fmt)
    try:
        Runtime.from_ctx(ctx).validate(opts["bundle"] or ".")
        problems = []
    except InvalidBundle as e:
        problems = e.problems
    if fmt == "json":
        from pyrunc.fastjson import dumps
        sys.stdout.write(dumps([{"path": p, "error": e} for p, e in problems],
                               indent="  ") + "\n")
    elif problems:
        # errors, so on stderr, each on its own line
        sys.stderr.write("".join("config.json: %s: %s\n" % (p or "/", e) for p, e in problems))
    else:
        sys.stdout.write("bundle is valid: config.json and rootfs\n")
    return 1 if problems else 0
