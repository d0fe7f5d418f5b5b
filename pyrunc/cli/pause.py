SYNOPSIS = "<container-id>"
DESCRIPTION = ("Suspend all processes of a running container (cgroup freezer); "
               "its state becomes \"paused\".")
FLAGS = ()
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.api import Runtime
    Runtime.from_ctx(ctx).pause(args[0])
    return 0
