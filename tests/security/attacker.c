/*
 * attacker: a hostile container process for tests/security (static, placed
 * in the rootfs as /bin/attacker next to tests/probe/probe.c's /bin/probe).
 *
 *   attacker watch LOG STOP
 *       Race the runtime (CVE-2016-9962, CVE-2019-5736): loop over /proc
 *       until the file STOP exists; for every process other than itself
 *       try readlink /proc/<pid>/exe and /proc/<pid>/cwd, list
 *       /proc/<pid>/fd and readlink each entry, and open /proc/<pid>/exe
 *       with O_PATH (fstat: dev, ino), keeping one fd per distinct file
 *       that is not reachable by its own path in the container;
 *       every kept fd is re-opened through /proc/self/fd/<n> with O_WRONLY
 *       (never written: opening for write is the capability the attack
 *       needs, and a test must not damage the host if it fails).
 *       LOG lines (each distinct line once):
 *         SEEN <pid>                  a new pid was observed
 *         EXE <pid> <target>          readlink /proc/<pid>/exe succeeded
 *         EXEID <pid> <dev> <ino>     open(/proc/<pid>/exe, O_PATH) + fstat
 *         CWD <pid> <target>          readlink /proc/<pid>/cwd succeeded
 *         FD <pid> <n> <target>       readlink /proc/<pid>/fd/<n> succeeded
 *         WOPEN <dev> <ino> seals=<n> an exe was opened for writing (F_GET_SEALS)
 *         FDWOPEN <pid> <n> seals=<s> <target>
 *                                     a /memfd: fd of another process was opened
 *                                     for writing (never written)
 *         STATUS <pid> | CapPrm .. | CapEff .. | NoNewPrivs ..  after a new EXE line
 *         DONE <loops>                at exit
 *
 *   attacker flip A B STOP
 *       Swap A and B with renameat2(RENAME_EXCHANGE) in a tight loop until
 *       the file STOP exists (CVE-2021-30465's race: a directory and a
 *       symlink to / trade places on a volume shared with a victim).
 * Exit status 0 unless the arguments are wrong.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define HSIZE (1 << 17)
static uint64_t seen_lines[HSIZE];
static int logfd = -1;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

/* log a line once; returns 1 if it was new */
static int log_once(const char *line)
{
    uint64_t h = fnv(line);
    size_t i = h & (HSIZE - 1);
    while (seen_lines[i]) {
        if (seen_lines[i] == h)
            return 0;
        i = (i + 1) & (HSIZE - 1);
    }
    seen_lines[i] = h;
    char buf[PATH_MAX + 64];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    if (n > 0) {
        ssize_t w = write(logfd, buf, (size_t)n);
        (void)w;
    }
    return 1;
}

struct kept { dev_t dev; ino_t ino; int fd; int opened; };
static struct kept kept[256];
static int nkept;

static void keep_exe(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return;
    }
    for (int i = 0; i < nkept; i++)
        if (kept[i].dev == st.st_dev && kept[i].ino == st.st_ino) {
            close(fd);
            return;
        }
    if (nkept == (int)(sizeof(kept) / sizeof(kept[0]))) {
        close(fd);
        return;
    }
    kept[nkept].dev = st.st_dev;
    kept[nkept].ino = st.st_ino;
    kept[nkept].fd = fd;
    kept[nkept].opened = 0;
    nkept++;
}

static void try_write_kept(void)
{
    char path[64], line[128];
    for (int i = 0; i < nkept; i++) {
        if (kept[i].opened)
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", kept[i].fd);
        int w = open(path, O_WRONLY | O_CLOEXEC);
        if (w >= 0) {
            int seals = fcntl(w, F_GET_SEALS);
            close(w);           /* nothing is written */
            kept[i].opened = 1;
            snprintf(line, sizeof(line), "WOPEN %llu %llu seals=%d",
                     (unsigned long long)kept[i].dev, (unsigned long long)kept[i].ino, seals);
            log_once(line);
        }
    }
}

/* STATUS <pid> <caps and flags>: what the reached process was (readable by anyone) */
static void log_status(const char *pid)
{
    char path[64], buf[4096], line[1024];
    int n = 0;
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    n = snprintf(line, sizeof(line), "STATUS %s", pid);
    while (fgets(buf, sizeof(buf), f) && n < (int)sizeof(line) - 64) {
        if (!strncmp(buf, "CapPrm:", 7) || !strncmp(buf, "CapEff:", 7) ||
            !strncmp(buf, "NoNewPrivs:", 11) || !strncmp(buf, "Uid:", 4)) {
            buf[strcspn(buf, "\n")] = 0;
            for (char *c = buf; *c; c++)
                if (*c == '\t')
                    *c = ' ';
            n += snprintf(line + n, sizeof(line) - n, " | %s", buf);
        }
    }
    fclose(f);
    log_once(line);
}

static void probe_pid(const char *pid)
{
    char path[128], target[PATH_MAX], line[PATH_MAX + 128];
    ssize_t l;

    snprintf(line, sizeof(line), "SEEN %s", pid);
    log_once(line);

    snprintf(path, sizeof(path), "/proc/%s/exe", pid);
    l = readlink(path, target, sizeof(target) - 1);
    if (l >= 0) {
        target[l] = 0;
        snprintf(line, sizeof(line), "EXE %s %s", pid, target);
        if (log_once(line))
            log_status(pid);
    }
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st, mine;
        if (fstat(fd, &st) == 0) {
            snprintf(line, sizeof(line), "EXEID %s %llu %llu", pid,
                     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
            log_once(line);
        }
        /* a file of our own filesystem is no prize (and holding it open for
         * writing would make the runtime's execs fail with ETXTBSY) */
        if (l >= 0 && stat(target, &mine) == 0 && mine.st_dev == st.st_dev &&
            mine.st_ino == st.st_ino)
            close(fd);
        else
            keep_exe(fd);
    }

    snprintf(path, sizeof(path), "/proc/%s/cwd", pid);
    l = readlink(path, target, sizeof(target) - 1);
    if (l >= 0) {
        target[l] = 0;
        snprintf(line, sizeof(line), "CWD %s %s", pid, target);
        log_once(line);
    }

    snprintf(path, sizeof(path), "/proc/%s/fd", pid);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char fpath[192];
            snprintf(fpath, sizeof(fpath), "/proc/%s/fd/%s", pid, e->d_name);
            l = readlink(fpath, target, sizeof(target) - 1);
            if (l >= 0) {
                target[l] = 0;
                snprintf(line, sizeof(line), "FD %s %s %s", pid, e->d_name, target);
                log_once(line);
                if (!strncmp(target, "/memfd:", 7)) {
                    /* the runtime's memfds (helper image, plan): writable? */
                    int w = open(fpath, O_WRONLY | O_CLOEXEC);
                    if (w >= 0) {
                        int seals = fcntl(w, F_GET_SEALS);
                        close(w);   /* nothing is written */
                        snprintf(line, sizeof(line), "FDWOPEN %s %s seals=%d %s", pid,
                                 e->d_name, seals, target);
                        log_once(line);
                    }
                }
            }
        }
        closedir(d);
    }
}

static int watch(const char *log, const char *stop)
{
    char self[32];
    unsigned long loops = 0;
    logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        perror("open log");
        return 1;
    }
    snprintf(self, sizeof(self), "%d", getpid());
    log_once("READY");
    for (;;) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        if (!d)
            return 1;
        while ((e = readdir(d))) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9' || !strcmp(e->d_name, self))
                continue;
            probe_pid(e->d_name);
        }
        closedir(d);
        try_write_kept();
        if (++loops % 64 == 0 && access(stop, F_OK) == 0)
            break;
    }
    char line[64];
    snprintf(line, sizeof(line), "DONE %lu", loops);
    log_once(line);
    close(logfd);
    return 0;
}

/* CVE-2021-30465's original race: swap a directory and a symlink (to /)
 * atomically, as fast as possible, until STOP exists */
static int flip(const char *a, const char *b, const char *stop)
{
    unsigned long n = 0;
    for (;;) {
        if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0) {
            perror("renameat2");
            return 1;
        }
        if (++n % 1024 == 0 && access(stop, F_OK) == 0)
            break;
    }
    printf("flipped %lu\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "watch"))
        return watch(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "flip"))
        return flip(argv[2], argv[3], argv[4]);
    return 2;
}
