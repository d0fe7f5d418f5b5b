SYNOPSIS = "[command options] <container-id>"
DESCRIPTION = ("Checkpoint a running container with CRIU into --image-path; without "
               "--leave-running (or --pre-dump) the container is gone afterwards.")
FLAGS = (
    (("--image-path",), "str", "image_path", "path for saving criu image files (default: ./checkpoint)"),
    (("--work-path",), "str", "work_path", "path for saving work files and logs (default: the image path)"),
    (("--parent-path",), "str", "parent_path", "path for previous criu image files in pre-dump"),
    (("--leave-running",), "bool", "leave_running", "leave the process running after checkpointing"),
    (("--tcp-established",), "bool", "tcp_established", "allow open tcp connections"),
    (("--ext-unix-sk",), "bool", "ext_unix_sk", "allow external unix sockets"),
    (("--shell-job",), "bool", "shell_job", "allow shell jobs"),
    (("--lazy-pages",), "bool", "lazy_pages", "use userfaultfd to lazily restore memory pages"),
    (("--status-fd",), "int", "status_fd", "criu writes \\0 to this fd once lazy-pages is ready"),
    (("--page-server",), "str", "page_server", "ADDRESS:PORT of the page server"),
    (("--file-locks",), "bool", "file_locks", "handle file locks"),
    (("--pre-dump",), "bool", "pre_dump", "dump the container's memory only, leave it running"),
    (("--manage-cgroups-mode",), "str", "manage_cgroups_mode", "cgroups mode: soft (default), full, strict, ignore"),
    (("--empty-ns",), "list", "empty_ns", "create a namespace, but do not restore its properties (network)"),
    (("--auto-dedup",), "bool", "auto_dedup", "enable auto deduplication of memory images"),
)
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.lifecycle.checkpoint import checkpoint
    return checkpoint(ctx, args[0], opts)
