SYNOPSIS = "[command options] <container-id>"
DESCRIPTION = "Delete a stopped container (--force: kill it first)."
FLAGS = (
    (("--force", "-f"), "bool", "force", "kill the container first if it is not stopped"),
)
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.lifecycle.delete import delete
    delete(ctx, args[0], opts["force"])
    return 0
