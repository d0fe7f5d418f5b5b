SYNOPSIS = "<container-id>"
DESCRIPTION = ("Suspend all processes of a running container (cgroup freezer); "
               "its state becomes \"paused\".")
FLAGS = ()
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.lifecycle.pause import pause
    pause(ctx, args[0])
    return 0
