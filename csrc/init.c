/*
 * pyrunc-init: the last step of every container process.
 *
 * pyrunc (Python) prepares the namespaces, mounts and process attributes,
 * then execs this small static program from a *sealed memfd*.  From then
 * on, /proc/<pid>/exe of the container's process points at that memfd,
 * never at the host's python binary (CVE-2019-5736), and the process stays
 * non-dumpable (CVE-2016-9962) until the final execve.
 *
 * It carries no policy: it reads a plan from the fd named in argv[1]
 * (written by pyrunc.linux.process.pack_plan) and performs, in this order:
 *   0. optionally fork (F_FORK): pyrunc execs this helper *before* the
 *      process enters a pid namespace that other processes already live
 *      in (exec; create joining a pid namespace by path), so the first
 *      process there is this sealed program, never the host's python.
 *      The parent sends "F <pid>" on sync_fd and exits; the child waits
 *      for pyrunc's go-ahead on sync_fd, a packet "N" followed by the
 *      seccomp-notify payload (the container process state, which holds
 *      the child's pid, so pyrunc can only write it now), then closes it.
 *      With F_NEW_SESSION the child starts a session and makes its fd 0
 *      (the pty pyrunc set up) its controlling terminal.
 *   1. optionally wait for `pyrunc start` (poll the exec fifo),
 *   2. optionally load the seccomp filter now (noNewPrivileges false: the
 *      filter needs CAP_SYS_ADMIN, so it goes before caps are dropped),
 *   3. set the rlimits (here, not in Python: the exec of this helper can be
 *      a "secure" one, which resets a large RLIMIT_STACK), drop bounding
 *      capabilities, set groups, gid, uid (keeping caps),
 *   4. set effective/permitted/inheritable and ambient capabilities,
 *   5. set no_new_privs, then load the seccomp filter (if not done in 2),
 *   6. execve.
 * Right after the wait, before any filter, every fd >= 3 + preserved is
 * marked CLOEXEC.
 * Any failure is written to the report fd and the program exits 127.
 *
 * A second mode, `pyrunc-init --proc-context PIDNS_FD SOCK_FD N`, makes N
 * procfs contexts for a pid namespace pyrunc does not live in: it joins
 * that pid namespace, forks, and the child (the only process that enters
 * it, and it runs this sealed program) fsopen()s "proc" N times and sends
 * the fds on SOCK_FD. A procfs context belongs to the pid namespace of the
 * process that opened it, so pyrunc can mount the container's /proc from
 * outside the namespace.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#ifndef CLONE_NEWPID
#define CLONE_NEWPID 0x20000000
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#define FSCONFIG_CMD_CREATE_ 6
#define FSMOUNT_CLOEXEC_ 0x00000001
#define MOUNT_ATTR_RDONLY_ 0x00000001

#define PLAN_MAGIC "PYRUNCI7"

enum {
    F_WAIT_FIFO = 1 << 0,   /* wait for start on fifo_fd */
    F_SET_CREDS = 1 << 1,   /* setgroups/setresgid/setresuid */
    F_SET_CAPS = 1 << 2,    /* bounding/eff/perm/inh/ambient */
    F_NNP = 1 << 3,         /* PR_SET_NO_NEW_PRIVS */
    F_SECCOMP = 1 << 4,     /* load the BPF program */
    F_SECCOMP_EARLY = 1 << 5, /* load it before dropping capabilities */
    F_FORK = 1 << 6,        /* fork first; the child goes on (see step 0) */
    F_NEW_SESSION = 1 << 7, /* in that child: setsid + fd 0 as controlling tty */
};

struct plan_header {
    char magic[8];
    uint32_t flags;
    int32_t fifo_fd;        /* read end of the exec fifo, or -1 */
    int32_t report_fd;      /* where errors go, or -1 */
    uint32_t preserve_fds;  /* fds 3 .. 3+n-1 survive */
    uint32_t uid, gid;
    uint32_t ngroups;
    uint32_t last_cap;
    uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable,
             cap_ambient;
    uint32_t seccomp_flags;
    uint32_t bpf_len;       /* number of struct sock_filter */
    uint32_t argc, envc;
    uint32_t strings_len;   /* path\0 argv...\0 envp...\0 */
    int32_t listener_fd;    /* seccomp notify: socket to listenerPath, or -1 */
    uint32_t payload_len;   /* seccomp notify: the container process state */
    uint32_t nrlimits;      /* struct plan_rlimit entries right after this header */
    int32_t sync_fd;        /* F_FORK: SOCK_SEQPACKET to pyrunc, or -1 */
    int32_t cwd_fd;         /* > 2: fchdir() to it first (pyrunc had to exec us
                               from another cwd, see exec_helper), else 0 */
    uint32_t nhooks;        /* startContainer hooks, in hooks_len bytes after */
    uint32_t hooks_len;     /* the strings: state\0 then per hook see run_hooks */
};
_Static_assert(sizeof(struct plan_header) == 128, "plan header layout");

struct plan_rlimit {
    uint32_t resource, pad;
    uint64_t soft, hard;
};

static int report_fd = -1;

static void die(const char *what, int err)
{
    char msg[512], e[128];
    /* runc's wording: "exec /run.sh: no such file or directory" */
    snprintf(e, sizeof(e), "%s", strerror(err));
    e[0] = (char)tolower((unsigned char)e[0]);
    int n = err ? snprintf(msg, sizeof(msg), "%s: %s", what, e)
                : snprintf(msg, sizeof(msg), "%s", what);
    if (report_fd >= 0 && n > 0) {
        ssize_t w = write(report_fd, msg, (size_t)n);
        (void)w;
    } else if (n > 0) {
        ssize_t w = write(2, msg, (size_t)n);
        (void)w;
    }
    _exit(127);
}

static char *read_all(int fd, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        die("pyrunc-init: malloc", ENOMEM);
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("pyrunc-init: read plan", errno);
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                die("pyrunc-init: realloc", ENOMEM);
        }
    }
    *len = n;
    return buf;
}

/* While it waits for `start`, a created container ends on SIGTERM, SIGINT
 * or SIGHUP as runc's does (its Go runtime handles them): as the init of
 * its pid namespace this process would otherwise ignore every signal but
 * SIGKILL. The caller's dispositions come back before the exec. */
static const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };

static void stop_while_waiting(int sig)
{
    _exit(128 + sig);
}

static void wait_for_start(int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };
    struct sigaction sa, old[3];
    char c;
    size_t i;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = stop_while_waiting;
    for (i = 0; i < 3; i++)
        sigaction(stop_signals[i], &sa, &old[i]);
    for (;;) {
        int r = poll(&p, 1, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("pyrunc-init: poll exec fifo", errno);
        break;
    }
    if (read(fd, &c, 1) != 1)
        die("pyrunc-init: read exec fifo", errno ? errno : EPIPE);
    close(fd);
    for (i = 0; i < 3; i++)
        sigaction(stop_signals[i], &old[i], NULL);
}

/* One sendmsg on sock: data, and fd as the only SCM_RIGHTS entry. */
static int send_fd(int sock, const void *data, size_t len, int fd)
{
    struct iovec iov = { (void *)data, len };
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr msg = { 0 };
    struct cmsghdr *c;
    memset(cbuf, 0, sizeof(cbuf));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* With SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel returns the notify fd:
 * send it, with the container process state pyrunc prepared, to the
 * listener (one sendmsg, SCM_RIGHTS), then close both (runtime-spec). */
static void send_listener(const struct plan_header *h, int notify_fd, const char *payload)
{
    if (send_fd(h->listener_fd, payload, h->payload_len, notify_fd) < 0)
        die("seccomp: send the notify fd to listenerPath", errno);
    close(notify_fd);
    close(h->listener_fd);
}

static void load_seccomp(const struct plan_header *h, struct sock_filter *prog,
                         const char *payload)
{
    struct sock_fprog fprog = { (unsigned short)h->bpf_len, prog };
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, h->seccomp_flags, &fprog);
    if (r < 0)
        die("seccomp: load filter", errno);
    if (h->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
        send_listener(h, (int)r, payload);
}

/* CLOSE_RANGE_CLOEXEC is Linux 5.11: mark every fd from `first` up to the
 * soft RLIMIT_NOFILE (no /proc is needed; EBADF for the closed ones). */
static void cloexec_from(int first)
{
    struct rlimit r;
    long max = 1024, fd;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY)
        max = (long)r.rlim_cur;
    if (max > (1L << 20))
        max = 1L << 20;
    for (fd = first; fd < max; fd++) {
        int fl = fcntl((int)fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC) && fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC) < 0)
            die("mark fds close-on-exec", errno);
    }
}

/* Step 0 (F_FORK). Returns in the child only; *payload may be replaced by
 * the one pyrunc sends with its go-ahead. */
static void fork_and_wait(struct plan_header *h, char **payload)
{
    static char buf[1 << 16];
    char msg[32];
    pid_t pid = fork();
    if (pid < 0)
        die("pyrunc-init: fork", errno);
    if (pid > 0) {
        int n = snprintf(msg, sizeof(msg), "F %d", (int)pid);
        if (send(h->sync_fd, msg, (size_t)n, MSG_NOSIGNAL) < 0) {
            kill(pid, SIGKILL);
            die("pyrunc-init: report the pid", errno);
        }
        _exit(0);
    }
    /* the child: nothing happens until pyrunc knows our pid */
    ssize_t r;
    do
        r = recv(h->sync_fd, buf, sizeof(buf), 0);
    while (r < 0 && errno == EINTR);
    if (r < 1 || buf[0] != 'N')
        _exit(127);     /* pyrunc went away or gave up: say nothing */
    if (h->payload_len && r > 1) {
        *payload = buf + 1;
        h->payload_len = (uint32_t)(r - 1);
    }
    close(h->sync_fd);
    if (h->flags & F_NEW_SESSION) {
        if (setsid() < 0)
            die("terminal: setsid", errno);
        if (ioctl(0, TIOCSCTTY, 0) < 0)
            die("terminal: set the controlling terminal", errno);
    }
}

/* --proc-context PIDNS_FD SOCK_FD N (see the opening comment) */
static int proc_context(int argc, char **argv)
{
    int pidns, sock, n, i, st;
    pid_t pid;
    if (argc != 5)
        die("pyrunc-init --proc-context: bad arguments", EINVAL);
    pidns = atoi(argv[2]);
    sock = atoi(argv[3]);
    n = atoi(argv[4]);
    if (n < 1 || n > 16)
        die("pyrunc-init --proc-context: bad count", EINVAL);
    if (syscall(SYS_setns, pidns, CLONE_NEWPID) < 0)
        die("join pid namespace", errno);
    /* A privileged process of that namespace (CAP_SYS_PTRACE) can follow
     * /proc/<pid>/root, cwd and fd/ of our child: give it an empty,
     * read-only, detached tmpfs as root and cwd, and no fd but the socket
     * (fd 2 is the same socket). */
    {
        int t = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC), m;
        if (t < 0 || syscall(SYS_fsconfig, t, FSCONFIG_CMD_CREATE_, NULL, NULL, 0) < 0)
            die("empty root: tmpfs", errno);
        m = (int)syscall(SYS_fsmount, t, FSMOUNT_CLOEXEC_, MOUNT_ATTR_RDONLY_);
        if (m < 0 || fchdir(m) < 0 || chroot(".") < 0)
            die("empty root: chroot", errno);
        close(m);
        close(t);
        close(pidns);
        close(0);
        close(1);
    }
    pid = fork();
    if (pid < 0)
        die("pyrunc-init: fork", errno);
    if (pid == 0) {
        for (i = 0; i < n; i++) {
            int fd = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
            if (fd < 0)
                die("fsopen proc", errno);
            if (send_fd(sock, "p", 1, fd) < 0)
                die("send the procfs context", errno);
            close(fd);
        }
        _exit(0);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("pyrunc-init: wait", errno);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 127;
}

/* startContainer hooks (runtime-spec: in the container, after start, before
 * the process): run here, last before the exec, so each has the process's
 * credentials, capabilities, no_new_privs and seccomp filter, as runc's do.
 * The blob is NUL-terminated strings: the state JSON, then per hook its
 * timeout (s, 0 none), argc, envc (-1: the process's environment), path,
 * argv, envp. A hook sees the state on stdin and the container's stdout; its
 * stderr is collected, passed on to the container's, and its last line
 * ends the error of a failing hook (runc). Nothing else of ours reaches it. */
static char *next_str(char **s)
{
    char *r = *s;
    *s += strlen(r) + 1;
    return r;
}

static void run_hooks(uint32_t n, char *blob, char **process_env)
{
    char *state = next_str(&blob), what[640];
    uint32_t i;
    for (i = 0; i < n; i++) {
        long timeout = strtol(next_str(&blob), NULL, 10);
        long argc = strtol(next_str(&blob), NULL, 10);
        long envc = strtol(next_str(&blob), NULL, 10), j;
        char *path = next_str(&blob);
        char **hargv = calloc((size_t)argc + 2, sizeof(char *));
        char **henv = envc < 0 ? process_env : calloc((size_t)envc + 1, sizeof(char *));
        int in[2], err[2], st = 0, pfd;
        static char ebuf[4096];
        size_t elen = 0;
        pid_t pid;
        if (!hargv || !henv)
            die("startContainer hook: calloc", ENOMEM);
        for (j = 0; j < argc; j++)
            hargv[j] = next_str(&blob);
        if (argc == 0)
            hargv[0] = path;
        for (j = 0; envc > 0 && j < envc; j++)
            henv[j] = next_str(&blob);
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
            die("startContainer hook: pipe", errno);
        pid = fork();
        if (pid < 0)
            die("startContainer hook: fork", errno);
        if (pid == 0) {
            if (dup2(in[0], 0) < 0 || dup2(err[1], 2) < 0)
                _exit(126);
            syscall(SYS_close_range, 3, ~0U, 0);
            execve(path, hargv, henv);
            _exit(127);
        }
        close(in[0]);
        close(err[1]);
        {
            size_t left = strlen(state);
            const char *p = state;
            struct sigaction ign, old;
            memset(&ign, 0, sizeof(ign));
            ign.sa_handler = SIG_IGN;       /* a hook that does not read */
            sigaction(SIGPIPE, &ign, &old);
            while (left > 0) {
                ssize_t w = write(in[1], p, left);
                if (w <= 0)
                    break;
                p += w;
                left -= (size_t)w;
            }
            sigaction(SIGPIPE, &old, NULL);
        }
        close(in[1]);
        /* its stderr until EOF (it and its children are done with it), within
         * the timeout */
        pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        {
            struct pollfd p = { err[0], POLLIN, 0 };
            long left_ms = timeout > 0 ? timeout * 1000 : -1;
            for (;;) {
                char chunk[1024];
                ssize_t n;
                int r = poll(&p, 1, left_ms > 0 ? (int)(left_ms > 1000 ? 1000 : left_ms)
                                                : (timeout > 0 ? 0 : -1));
                if (r < 0 && errno == EINTR)
                    continue;
                if (r == 0) {
                    if (timeout > 0 && (left_ms -= 1000) <= 0) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &st, 0);
                        snprintf(what, sizeof(what), "error running startContainer hook "
                                 "#%u: %.200s: timed out after %lds", i, path, timeout);
                        die(what, 0);
                    }
                    continue;
                }
                n = read(err[0], chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break;
                if (write(2, chunk, (size_t)n) < 0) {
                    /* the container's stderr is gone: the hook's error still counts */
                }
                /* keep the last sizeof(ebuf) - 1 bytes (chunk is smaller) */
                if (elen + (size_t)n >= sizeof(ebuf)) {
                    size_t drop = elen + (size_t)n - (sizeof(ebuf) - 1);
                    memmove(ebuf, ebuf + drop, elen - drop);
                    elen -= drop;
                }
                memcpy(ebuf + elen, chunk, (size_t)n);
                elen += (size_t)n;
            }
            close(err[0]);
            ebuf[elen] = 0;
        }
        if (pfd >= 0)
            close(pfd);
        while (waitpid(pid, &st, 0) < 0)
            if (errno != EINTR)
                die("startContainer hook: wait", errno);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            free(hargv);
            if (envc >= 0)
                free(henv);
            continue;
        }
        {
            /* the last line of its stderr, as the Python hooks say it */
            char *last = ebuf, *nl;
            while (elen && ebuf[elen - 1] == '\n')
                ebuf[--elen] = 0;
            while ((nl = strchr(last, '\n')) != NULL)
                last = nl + 1;
            if (WIFSIGNALED(st)) {
                char sig[64];
                snprintf(sig, sizeof(sig), "%s", strsignal(WTERMSIG(st)));
                sig[0] = (char)tolower((unsigned char)sig[0]);
                snprintf(what, sizeof(what), "error running startContainer hook #%u: %.200s: "
                         "signal: %s%s%.200s", i, path, sig, *last ? ": " : "", last);
            } else {
                snprintf(what, sizeof(what), "error running startContainer hook #%u: %.200s: "
                         "exit status %d%s%.200s", i, path, WEXITSTATUS(st),
                         *last ? ": " : "", last);
            }
        }
        die(what, 0);
    }
}

int main(int argc, char **argv)
{
    struct plan_header h;
    size_t len, off;
    char *buf, *path, **cargv, **cenvp, *s, *payload;
    uint32_t *groups;
    struct sock_filter *prog;
    uint32_t i;

    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (argc > 1 && strcmp(argv[1], "--proc-context") == 0)
        return proc_context(argc, argv);
    if (argc != 2)
        die("pyrunc-init: not started by pyrunc", EINVAL);
    int plan_fd = atoi(argv[1]);
    buf = read_all(plan_fd, &len);
    close(plan_fd);
    if (len < sizeof(h))
        die("pyrunc-init: short plan", EINVAL);
    memcpy(&h, buf, sizeof(h));
    if (memcmp(h.magic, PLAN_MAGIC, 8) != 0)
        die("pyrunc-init: bad plan", EINVAL);
    report_fd = h.report_fd;
    off = sizeof(h);
    struct plan_rlimit *rl = (struct plan_rlimit *)(buf + off);
    if (len < off + h.nrlimits * sizeof(struct plan_rlimit))
        die("pyrunc-init: truncated plan", EINVAL);
    off += h.nrlimits * sizeof(struct plan_rlimit);
    if (len < off + h.ngroups * 4 + h.bpf_len * sizeof(struct sock_filter) + h.payload_len
              + h.strings_len)
        die("pyrunc-init: truncated plan", EINVAL);
    groups = (uint32_t *)(buf + off);
    off += h.ngroups * 4;
    prog = (struct sock_filter *)(buf + off);
    off += h.bpf_len * sizeof(struct sock_filter);
    payload = buf + off;
    off += h.payload_len;
    /* strings: path, argv, envp; all NUL-terminated */
    cargv = calloc(h.argc + 1, sizeof(char *));
    cenvp = calloc(h.envc + 1, sizeof(char *));
    if (!cargv || !cenvp)
        die("pyrunc-init: calloc", ENOMEM);
    s = buf + off;
    path = s;
    s += strlen(s) + 1;
    for (i = 0; i < h.argc; i++) {
        cargv[i] = s;
        s += strlen(s) + 1;
    }
    for (i = 0; i < h.envc; i++) {
        cenvp[i] = s;
        s += strlen(s) + 1;
    }
    char *hooks = buf + off + h.strings_len;
    if (h.nhooks && len < off + h.strings_len + h.hooks_len)
        die("pyrunc-init: truncated plan", EINVAL);

    if (h.cwd_fd > 2) {
        if (fchdir(h.cwd_fd) < 0)
            die("chdir", errno);
        close(h.cwd_fd);
    }

    if (h.flags & F_FORK)
        fork_and_wait(&h, &payload);

    if (h.flags & F_WAIT_FIFO)
        wait_for_start(h.fifo_fd);

    /* Nothing but stdio and the preserved fds may reach the process
     * (CVE-2024-21626). The report fd is closed by the execve itself.
     * Done before any seccomp filter exists: profiles rarely allow it. */
    if (syscall(SYS_close_range, 3 + h.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        if (errno != EINVAL && errno != ENOSYS)
            die("close_range", errno);
        cloexec_from(3 + (int)h.preserve_fds);     /* before Linux 5.11 */
    }

    if ((h.flags & F_SECCOMP) && (h.flags & F_SECCOMP_EARLY))
        load_seccomp(&h, prog, payload);

    for (i = 0; i < h.nrlimits; i++) {
        struct rlimit r = { (rlim_t)rl[i].soft, (rlim_t)rl[i].hard };
        if (setrlimit((int)rl[i].resource, &r) < 0)
            die("rlimits: setrlimit", errno);
    }

    if (h.flags & F_SET_CAPS) {
        for (i = 0; i <= h.last_cap && i < 64; i++)
            if (!(h.cap_bounding & (1ULL << i)) &&
                prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
                die("capabilities: drop bounding", errno);
    }
    if (h.flags & F_SET_CREDS) {
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            die("credentials: keepcaps", errno);
        gid_t g[h.ngroups ? h.ngroups : 1];
        for (i = 0; i < h.ngroups; i++)
            g[i] = groups[i];
        if (setgroups(h.ngroups, g) < 0 && !(errno == EPERM && h.ngroups == 0))
            die("credentials: setgroups", errno);
        if (setresgid(h.gid, h.gid, h.gid) < 0)
            die("credentials: setresgid", errno);
        if (setresuid(h.uid, h.uid, h.uid) < 0)
            die("credentials: setresuid", errno);
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
            die("credentials: keepcaps", errno);
    }
    if (h.flags & F_SET_CAPS) {
        struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2];
        d[0].effective = (uint32_t)h.cap_effective;
        d[1].effective = (uint32_t)(h.cap_effective >> 32);
        d[0].permitted = (uint32_t)h.cap_permitted;
        d[1].permitted = (uint32_t)(h.cap_permitted >> 32);
        d[0].inheritable = (uint32_t)h.cap_inheritable;
        d[1].inheritable = (uint32_t)(h.cap_inheritable >> 32);
        if (syscall(SYS_capset, &hdr, d) < 0)
            die("capabilities: capset", errno);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
            die("capabilities: clear ambient", errno);
        for (i = 0; i <= h.last_cap && i < 64; i++)
            if ((h.cap_ambient & (1ULL << i)) &&
                prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
                die("capabilities: raise ambient", errno);
    }
    if ((h.flags & F_NNP) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("prctl: no_new_privs", errno);

    if ((h.flags & F_SECCOMP) && !(h.flags & F_SECCOMP_EARLY))
        load_seccomp(&h, prog, payload);

    if (h.nhooks)
        run_hooks(h.nhooks, hooks, cenvp);

    execve(path, cargv, cenvp);
    {
        char what[300];
        snprintf(what, sizeof(what), "exec %s", path);
        die(what, errno);
    }
    return 127;
}
