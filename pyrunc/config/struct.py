"""A tiny immutable record base for the typed config model.

dataclasses and typing cost milliseconds to import; every pyrunc command
pays interpreter start-up, so the model uses this slotted base instead.
Subclasses list their fields in ``__slots__``; every field must be passed
(by keyword) or has the default ``None``.
"""


class Struct:
    __slots__ = ()

    def __init__(self, **kw):
        for name in self.__slots__:
            object.__setattr__(self, name, kw.pop(name, None))
        if kw:
            raise TypeError("%s: unknown fields %s" % (type(self).__name__, sorted(kw)))

    def __setattr__(self, name, value):
        raise AttributeError("%s is immutable" % type(self).__name__)

    def __delattr__(self, name):
        raise AttributeError("%s is immutable" % type(self).__name__)

    def __eq__(self, other):
        return type(self) is type(other) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self):
        return hash(tuple(_hashable(getattr(self, n)) for n in self.__slots__))

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (n, getattr(self, n)) for n in self.__slots__
            if getattr(self, n) is not None))


def _hashable(v):
    if isinstance(v, dict):
        return tuple(sorted(v.items()))
    return v


class FrozenDict(dict):
    """A dict that refuses mutation (annotations, sysctl, unified...)."""

    __slots__ = ()

    def _ro(self, *a, **k):
        raise TypeError("read-only mapping")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _ro

    def __hash__(self):
        return hash(tuple(sorted(self.items())))


def frozen(d):
    return FrozenDict(d or {})
