SYNOPSIS = "[command options] <container-id>"
DESCRIPTION = ("Create and start a container, wait for it, and exit with its status "
               "(128+N when killed by signal N); the container is deleted afterwards "
               "unless --keep or --detach.")
FLAGS = (
    (("--bundle", "-b"), "str", "bundle", "path to the bundle directory (default: cwd)"),
    (("--console-socket",), "str", "console_socket", "AF_UNIX socket that receives the pty master"),
    (("--pid-file",), "str", "pid_file", "file to write the process id to"),
    (("--detach", "-d"), "bool", "detach", "return after start"),
    (("--keep",), "bool", "keep", "do not delete the container after it exits"),
    (("--no-pivot",), "bool", "no_pivot", "do not use pivot_root"),
    (("--no-new-keyring",), "bool", "no_new_keyring", "do not create a new session keyring"),
    (("--preserve-fds",), "int", "preserve_fds", "pass N extra fds to the process"),
    (("--no-subreaper",), "bool", "no_subreaper", "accepted, unused"),
    (("--pidfd-socket",), "str", "pidfd_socket",
     "AF_UNIX socket that receives a pidfd of the container's process"),
)
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.api import Runtime
    return Runtime.from_ctx(ctx).run(
        args[0], opts["bundle"] or ".", opts["detach"], pid_file=opts["pid_file"],
        console_socket=opts["console_socket"], no_pivot=opts["no_pivot"],
        preserve_fds=opts["preserve_fds"] or 0, pidfd_socket=opts["pidfd_socket"],
        keep=opts["keep"])
