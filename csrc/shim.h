/*
 * pyrunc shim: thin wrappers over Linux syscalls that Python 3.11 does not
 * expose (or exposes only through paths that follow symlinks).
 *
 * Rules for this file:
 *   - no policy: every function does one syscall (or one fixed, documented
 *     sequence) with the arguments it is given;
 *   - return the syscall's result, or -1 with errno set (cffi's ffi.errno);
 *   - no allocation that outlives the call, no global state.
 */
#include <stdint.h>

int pyrunc_unshare(int flags);
int pyrunc_setns(int fd, int nstype);
int pyrunc_mount(const char *source, const char *target, const char *fstype,
                 unsigned long flags, const char *data);
int pyrunc_umount2(const char *target, int flags);
int pyrunc_pivot_root(const char *new_root, const char *put_old);
int pyrunc_mount_setattr(int dirfd, const char *path, unsigned int flags,
                         uint64_t attr_set, uint64_t attr_clr,
                         uint64_t propagation, uint64_t userns_fd);
int pyrunc_open_tree(int dirfd, const char *path, unsigned int flags);
int pyrunc_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                      const char *to_path, unsigned int flags);
int pyrunc_fsopen(const char *fsname, unsigned int flags);
int pyrunc_fsconfig(int fd, unsigned int cmd, const char *key,
                    const char *value, int aux);
int pyrunc_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
int pyrunc_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode,
                   uint64_t resolve);
int pyrunc_mknodat(int dirfd, const char *path, unsigned int mode,
                   unsigned int major, unsigned int minor);
int pyrunc_sethostname(const char *name, size_t len);
int pyrunc_setdomainname(const char *name, size_t len);
int pyrunc_prctl(int option, unsigned long a2, unsigned long a3,
                 unsigned long a4, unsigned long a5);
int pyrunc_capget_last(void);
int pyrunc_memfd_create(const char *name, unsigned int flags);
int pyrunc_close_range(unsigned int first, unsigned int last, unsigned int flags);
int pyrunc_bpf(int cmd, void *attr, unsigned int size);
int pyrunc_personality(unsigned long persona);
int pyrunc_ioprio_set(int which, int who, int ioprio);
int pyrunc_sched_setattr(int pid, uint32_t policy, uint64_t flags, int32_t nice,
                         uint32_t priority, uint64_t runtime, uint64_t deadline,
                         uint64_t period);
int pyrunc_set_mempolicy(int mode, const unsigned long *nodemask,
                         unsigned long maxnode);
int pyrunc_tiocgptpeer(int master_fd, int flags);
long pyrunc_fstatfs_type(int fd);
long long pyrunc_mnt_id(int fd);
