"""cffi (API mode) build script for pyrunc._seccomp; run by setup.py at install.

Binds the few libseccomp calls pyrunc.linux.seccomp needs to turn an OCI
seccomp profile into a BPF program (Debian: libseccomp-dev). No policy
here: the translation of the profile lives in Python; the only glue is a
one-line wrapper of the raw seccomp(2) syscall, used to ask the kernel
which filter flags and actions it supports.
"""
from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef("""
typedef void *scmp_filter_ctx;
typedef uint64_t scmp_datum_t;

struct scmp_version {
    unsigned int major;
    unsigned int minor;
    unsigned int micro;
};

enum scmp_filter_attr {
    SCMP_FLTATR_ACT_DEFAULT = 1,
    SCMP_FLTATR_ACT_BADARCH = 2,
    SCMP_FLTATR_CTL_NNP = 3,
    SCMP_FLTATR_CTL_TSYNC = 4,
    SCMP_FLTATR_API_TSKIP = 5,
    SCMP_FLTATR_CTL_LOG = 6,
    SCMP_FLTATR_CTL_SSB = 7,
    SCMP_FLTATR_CTL_OPTIMIZE = 8,
    ...
};

enum scmp_compare {
    SCMP_CMP_NE = 1,
    SCMP_CMP_LT = 2,
    SCMP_CMP_LE = 3,
    SCMP_CMP_EQ = 4,
    SCMP_CMP_GE = 5,
    SCMP_CMP_GT = 6,
    SCMP_CMP_MASKED_EQ = 7,
    ...
};

struct scmp_arg_cmp {
    unsigned int arg;
    enum scmp_compare op;
    scmp_datum_t datum_a;
    scmp_datum_t datum_b;
};

#define __NR_SCMP_ERROR ...

const struct scmp_version *seccomp_version(void);
unsigned int seccomp_api_get(void);

scmp_filter_ctx seccomp_init(uint32_t def_action);
int seccomp_reset(scmp_filter_ctx ctx, uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);

uint32_t seccomp_arch_resolve_name(const char *arch_name);
uint32_t seccomp_arch_native(void);
int seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token);

int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);

int seccomp_syscall_resolve_name(const char *name);
int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name);

int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);

int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);

int pyrunc_seccomp(unsigned int op, unsigned int flags, void *args);
""")
ffibuilder.set_source(
    "pyrunc._seccomp",
    """
#include <seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

/* the raw seccomp(2) syscall: -1 with errno set on failure */
static int pyrunc_seccomp(unsigned int op, unsigned int flags, void *args)
{
    return (int)syscall(SYS_seccomp, op, flags, args);
}
""",
    libraries=["seccomp"],
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
