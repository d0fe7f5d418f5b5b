/* See shim.h for the rules. Each wrapper is one syscall. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>
#include "shim.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int pyrunc_unshare(int flags) { return unshare(flags); }
int pyrunc_setns(int fd, int nstype) { return setns(fd, nstype); }

int pyrunc_mount(const char *source, const char *target, const char *fstype,
                 unsigned long flags, const char *data)
{
    return mount(source, target, fstype, flags, data);
}

int pyrunc_umount2(const char *target, int flags) { return umount2(target, flags); }

int pyrunc_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

/* struct mount_attr from linux/mount.h, spelled out for old headers. */
struct pyrunc_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

int pyrunc_mount_setattr(int dirfd, const char *path, unsigned int flags,
                         uint64_t attr_set, uint64_t attr_clr,
                         uint64_t propagation, uint64_t userns_fd)
{
    struct pyrunc_mount_attr a = { attr_set, attr_clr, propagation, userns_fd };
    return (int)syscall(SYS_mount_setattr, dirfd, path, flags, &a, sizeof(a));
}

int pyrunc_open_tree(int dirfd, const char *path, unsigned int flags)
{
    return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

int pyrunc_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                      const char *to_path, unsigned int flags)
{
    return (int)syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd,
                        to_path, flags);
}

int pyrunc_fsopen(const char *fsname, unsigned int flags)
{
    return (int)syscall(SYS_fsopen, fsname, flags);
}

int pyrunc_fsconfig(int fd, unsigned int cmd, const char *key,
                    const char *value, int aux)
{
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}

int pyrunc_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
    return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}

/* struct open_how from linux/openat2.h. */
struct pyrunc_open_how { uint64_t flags, mode, resolve; };

int pyrunc_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode,
                   uint64_t resolve)
{
    struct pyrunc_open_how how = { flags, mode, resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int pyrunc_mknodat(int dirfd, const char *path, unsigned int mode,
                   unsigned int major, unsigned int minor)
{
    return mknodat(dirfd, path, mode, makedev(major, minor));
}

int pyrunc_sethostname(const char *name, size_t len) { return sethostname(name, len); }
int pyrunc_setdomainname(const char *name, size_t len) { return setdomainname(name, len); }

int pyrunc_prctl(int option, unsigned long a2, unsigned long a3,
                 unsigned long a4, unsigned long a5)
{
    return prctl(option, a2, a3, a4, a5);
}

/* Highest capability number the running kernel knows (probe with
 * PR_CAPBSET_READ, which fails with EINVAL past the last one). */
int pyrunc_capget_last(void)
{
    int cap = 0;
    while (cap < 64 && prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0)
        cap++;
    return cap;
}

int pyrunc_memfd_create(const char *name, unsigned int flags)
{
    return (int)syscall(SYS_memfd_create, name, flags);
}

int pyrunc_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
    return (int)syscall(SYS_close_range, first, last, flags);
}

int pyrunc_bpf(int cmd, void *attr, unsigned int size)
{
    return (int)syscall(SYS_bpf, cmd, attr, size);
}

int pyrunc_personality(unsigned long persona)
{
    return (int)syscall(SYS_personality, persona);
}

int pyrunc_ioprio_set(int which, int who, int ioprio)
{
    return (int)syscall(SYS_ioprio_set, which, who, ioprio);
}

/* struct sched_attr (SCHED_ATTR_SIZE_VER0 layout). */
struct pyrunc_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

int pyrunc_sched_setattr(int pid, uint32_t policy, uint64_t flags, int32_t nice,
                         uint32_t priority, uint64_t runtime, uint64_t deadline,
                         uint64_t period)
{
    struct pyrunc_sched_attr a = { sizeof(a), policy, flags, nice, priority,
                                   runtime, deadline, period };
    return (int)syscall(SYS_sched_setattr, pid, &a, 0);
}

int pyrunc_set_mempolicy(int mode, const unsigned long *nodemask,
                         unsigned long maxnode)
{
    return (int)syscall(SYS_set_mempolicy, mode, nodemask, maxnode);
}

int pyrunc_tiocgptpeer(int master_fd, int flags)
{
    return ioctl(master_fd, TIOCGPTPEER, flags);
}

#include <sys/vfs.h>
/* f_type of the filesystem holding fd (PROC_SUPER_MAGIC, DEVPTS_SUPER_MAGIC...). */
long pyrunc_fstatfs_type(int fd)
{
    struct statfs s;
    if (fstatfs(fd, &s) < 0)
        return -1;
    return (long)s.f_type;
}

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000
#endif
/* The id of the mount fd is on (statx STATX_MNT_ID, Linux 5.8), as
 * mountinfo's first field: no /proc/<pid>/fdinfo needed, which a
 * non-dumpable task may not read in a user namespace before Linux 6.x. */
long long pyrunc_mnt_id(int fd)
{
    struct statx s;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &s) < 0)
        return -1;
    if (!(s.stx_mask & STATX_MNT_ID)) {
        errno = ENOSYS;
        return -1;
    }
    return (long long)s.stx_mnt_id;
}
