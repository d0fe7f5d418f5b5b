SYNOPSIS = "[command options] <container-id> [signal]"
DESCRIPTION = "Send a signal (default SIGTERM) to the container's init process."
FLAGS = (
    (("--all", "-a"), "bool", "all", "send the signal to every process of the container"),
)
NARGS = (1, 2)


def run(ctx, opts, args):
    from pyrunc.api import Runtime
    Runtime.from_ctx(ctx).kill(args[0], args[1] if len(args) > 1 else None, opts["all"])
    return 0
