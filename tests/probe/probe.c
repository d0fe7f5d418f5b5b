/*
 * probe: a tiny static program placed in the test rootfs to report, from
 * inside a container, what busybox cannot show precisely.
 *
 *   probe fds            one line per open fd: "<n> <readlink target>"
 *   probe rlimits        one line per limit: "<RLIMIT_NAME> <soft> <hard>"
 *   probe status         CapInh/CapPrm/CapEff/CapBnd/CapAmb/NoNewPrivs/Seccomp
 *   probe cwd            getcwd(), or "ERR <errno>"
 *   probe exe PID        readlink /proc/PID/exe, or "ERR <errno>"
 *   probe open PATH [w]  open for read (or write): "OK" or "ERR <errno>"
 *   probe syscall NAME   try getcwd/getpid/chdir/mkdir: "OK" or "ERR <errno>"
 *   probe sleep SECS     sleep (a quiet init)
 * Exit status 0 unless the arguments are wrong.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct { const char *name; int res; } limits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU}, {"RLIMIT_FSIZE", RLIMIT_FSIZE}, {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK}, {"RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC}, {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", RLIMIT_AS}, {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE}, {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static int fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int self;
    char path[64], target[PATH_MAX];
    if (!d) { printf("ERR %d\n", errno); return 0; }
    self = dirfd(d);
    while ((e = readdir(d))) {
        int n;
        ssize_t l;
        if (e->d_name[0] == '.') continue;
        n = atoi(e->d_name);
        if (n == self) continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", n);
        l = readlink(path, target, sizeof(target) - 1);
        target[l < 0 ? 0 : l] = 0;
        printf("%d %s\n", n, target);
    }
    closedir(d);
    return 0;
}

static void fmt(rlim_t v)
{
    if (v == RLIM_INFINITY) printf(" unlimited"); else printf(" %llu", (unsigned long long)v);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "fds")) return fds();
    if (!strcmp(argv[1], "rlimits")) {
        for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
            struct rlimit r;
            getrlimit(limits[i].res, &r);
            printf("%s", limits[i].name); fmt(r.rlim_cur); fmt(r.rlim_max); printf("\n");
        }
        return 0;
    }
    if (!strcmp(argv[1], "status")) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        if (!f) { printf("ERR %d\n", errno); return 0; }
        while (fgets(line, sizeof(line), f))
            if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) ||
                !strncmp(line, "Seccomp:", 8))
                fputs(line, stdout);
        fclose(f);
        return 0;
    }
    if (!strcmp(argv[1], "cwd")) {
        char buf[PATH_MAX];
        if (getcwd(buf, sizeof(buf))) printf("%s\n", buf); else printf("ERR %d\n", errno);
        return 0;
    }
    if (!strcmp(argv[1], "exe") && argc > 2) {
        char path[64], target[PATH_MAX];
        ssize_t l;
        snprintf(path, sizeof(path), "/proc/%s/exe", argv[2]);
        l = readlink(path, target, sizeof(target) - 1);
        if (l < 0) printf("ERR %d\n", errno); else { target[l] = 0; printf("%s\n", target); }
        return 0;
    }
    if (!strcmp(argv[1], "open") && argc > 2) {
        int fd = open(argv[2], (argc > 3 && argv[3][0] == 'w') ? O_WRONLY : O_RDONLY);
        if (fd < 0) printf("ERR %d\n", errno); else { printf("OK\n"); close(fd); }
        return 0;
    }
    if (!strcmp(argv[1], "syscall") && argc > 2) {
        char buf[PATH_MAX];
        long r = -1;
        if (!strcmp(argv[2], "getcwd")) r = getcwd(buf, sizeof(buf)) ? 0 : -1;
        else if (!strcmp(argv[2], "getpid")) r = getpid() > 0 ? 0 : -1;
        else if (!strcmp(argv[2], "chdir")) r = chdir("/");
        else if (!strcmp(argv[2], "mkdir")) r = mkdir(argc > 3 ? argv[3] : "/tmp/probe-dir", 0755);
        else if (argv[2][0] >= '0' && argv[2][0] <= '9')
            r = syscall(atol(argv[2]), 0, 0, 0, 0, 0, 0);   /* a raw number */
        else return 2;
        if (r < 0) printf("ERR %d\n", errno); else printf("OK\n");
        return 0;
    }
    if (!strcmp(argv[1], "sleep") && argc > 2) {
        sleep((unsigned)atoi(argv[2]));
        return 0;
    }
    return 2;
}
