"""pyrunc: an OCI runtime in the style of runc, in Python with a small C shim."""

__version__ = "0.1.0"
# The runtime-spec version pyrunc implements and reports in state JSON.
OCI_VERSION = "1.3.0"
