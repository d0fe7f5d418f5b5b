SYNOPSIS = "[command options] <container-id>"
DESCRIPTION = "Create a container from a bundle; its process waits for `pyrunc start`."
FLAGS = (
    (("--bundle", "-b"), "str", "bundle", "path to the bundle directory (default: cwd)"),
    (("--console-socket",), "str", "console_socket", "AF_UNIX socket that receives the pty master"),
    (("--pid-file",), "str", "pid_file", "file to write the process id to"),
    (("--no-pivot",), "bool", "no_pivot", "do not use pivot_root (MS_MOVE + chroot)"),
    (("--no-new-keyring",), "bool", "no_new_keyring", "do not create a new session keyring"),
    (("--preserve-fds",), "int", "preserve_fds", "pass N extra fds (3..3+N-1) to the process"),
    (("--detach", "-d"), "bool", "detach", "accepted for go-runc compatibility"),
    (("--pidfd-socket",), "str", "pidfd_socket",
     "AF_UNIX socket that receives a pidfd of the container's process"),
)
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.api import Runtime
    Runtime.from_ctx(ctx).create(
        args[0], opts["bundle"] or ".", pid_file=opts["pid_file"],
        console_socket=opts["console_socket"], no_pivot=opts["no_pivot"],
        pidfd_socket=opts["pidfd_socket"], preserve_fds=opts["preserve_fds"] or 0)
    return 0
