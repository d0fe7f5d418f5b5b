SYNOPSIS = "[command options] <container-id>"
DESCRIPTION = "Delete a stopped container (--force: kill it first)."
FLAGS = (
    (("--force", "-f"), "bool", "force", "kill the container first if it is not stopped"),
)
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.api import Runtime
    Runtime.from_ctx(ctx).delete(args[0], opts["force"])
    return 0
