"""cffi (API mode) build script for pyrunc._shim; run by setup.py at install."""
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

ffibuilder = FFI()
with open(os.path.join(HERE, "shim.h")) as f:
    # cffi's cdef does not understand #include; drop those lines.
    ffibuilder.cdef("".join(l for l in f if not l.startswith("#")))
ffibuilder.set_source(
    "pyrunc._shim",
    '#include "shim.h"',
    sources=[os.path.join("csrc", "shim.c")],
    include_dirs=[HERE],
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
