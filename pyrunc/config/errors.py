"""The error raised by the generated schema validator (pyrunc.config._validator),
and the loop behind its collect().

Kept import-free: the validator imports this module only when a document
is invalid (or for collect()), and the JSON rendering of values imports
``json`` lazily.
"""

#: longest JSON rendering of a value inside a message
RENDER_LIMIT = 60

#: the two rules whose internal error carries a property name, not the
#: offending value (the generated code words them with exactly these)
REQUIRED = "%s is a required property"
ADDITIONAL = "Additional properties are not allowed (%s was unexpected)"


class ValidationError(ValueError):
    """A document violates its schema.

    ``path`` is the JSON pointer of the offending value ("" for the document
    itself), ``rule`` the violated rule in words.  ``str(err)`` is
    ``"<pointer>: <rule>"``, with the root pointer written as "/".
    """

    def __init__(self, path, rule):
        ValueError.__init__(self, "%s: %s" % (path or "/", rule))
        self.path = path
        self.rule = rule

    def __reduce__(self):
        return (type(self), (self.path, self.rule))


def render(value, limit=RENDER_LIMIT):
    """JSON text of ``value`` for a message, cut to about ``limit`` characters.

    Long arrays and objects keep their first members (nested arrays and
    objects cut the same way) and end in "...]" or "...}"; other long values
    are cut and end in "...".
    """
    import json
    try:
        return _cut(value, limit, json.dumps)[0]
    except (TypeError, ValueError):
        s = repr(value)
        return s if len(s) <= limit else s[:limit - 3] + "..."


def _cut(value, limit, dumps):
    """(text, whether it was cut)"""
    s = dumps(value)
    if len(s) <= limit:
        return s, False
    if isinstance(value, dict):
        items = [(dumps(k) + ": ", v) for k, v in value.items()]
        out, close = "{", "}"
    elif isinstance(value, (list, tuple)):
        items = [("", v) for v in value]
        out, close = "[", "]"
    else:
        return s[:limit - 3] + "...", True
    last = len(items) - 1
    for n, (prefix, v) in enumerate(items):
        room = limit - len(out) - len(prefix) - (0 if n == last else 5) - 1
        if isinstance(v, (dict, list, tuple)) and room >= 5:
            piece, cut = _cut(v, room, dumps)
        else:
            piece, cut = dumps(v), False
            if len(piece) > room:
                break
        out += prefix + piece
        if cut:
            return out + ("" if n == last else ", ...") + close, True
        out += ", "
    return out + "..." + close, True


def collect(check, doc, limit, E, skip, on):
    """Every violation of doc, for the generated module's collect(): up to
    ``limit`` ValidationErrors (below 1 counts as 1), [] when doc is valid.

    ``check`` is a generated node function, ``E`` the module's internal
    error (``.v`` the value or property name, ``.t`` the message template,
    ``.segs`` the path, innermost first), ``skip`` its _SKIP and ``on`` its
    _ON list.

    The same checks run again and again: after each violation ``skip`` goes
    where the offending value was, in a copy of the document that shares
    what is not changed: for "required" under the missing name, for an
    unexpected property as its value, else in place of the value.  Every
    check accepts ``skip``, and a check that looks into an array or object
    (enum or const with one, uniqueItems, oneOf's "more than one", not)
    does not fail while it holds one.  So:

    * the first error is the one validate() raises, the others follow in
      the order validate() meets them, each worded as validate() would
      word it (values as the document has them);
    * a problem is reported once and causes no other: a value that breaks
      a rule of its own (a wrong type, a short array, an anyOf no
      alternative of which it meets) is not looked into further, and an
      anyOf, oneOf or not gives one error for its node as with validate();
    * the price of no cascades: one of those checks that look into an
      array or object passes it while it holds a reported member, so what
      it would have found besides is not reported.

    ``doc`` is not changed.
    """
    def holds(x):
        if x is skip:
            return True
        if isinstance(x, dict):
            x = x.values()
        elif not isinstance(x, list):
            return False
        for y in x:
            if holds(y):
                return True
        return False

    out = []
    seen = set()
    mine = {}    # id -> the copies made, kept alive so that their ids stay theirs
    cur = doc
    on.append(holds)
    try:
        while True:
            try:
                check(cur)
                return out
            except E as e:
                segs = e.segs[::-1]
                v = e.v
                if holds(v):
                    v = doc          # word the value as the document has it
                    for s in segs:
                        v = v[s]
                path = "".join("/" + str(s).replace("~", "~0").replace("/", "~1")
                               for s in segs)
                err = ValidationError(path, e.t % (render(v),))
                if (path, err.rule) in seen:
                    return out       # no progress: should not happen
                seen.add((path, err.rule))
                out.append(err)
                if len(out) >= limit:
                    return out
                if e.t == REQUIRED or e.t == ADDITIONAL:
                    at, name = segs, e.v
                elif segs:
                    at, name = segs[:-1], segs[-1]
                else:
                    return out       # the document itself is wrong as a whole
                cur, node = _own(cur, at, mine)
                node[name] = skip
    finally:
        on.remove(holds)


def _own(root, segs, mine):
    """(root, node at segs) with root and the arrays and objects down to that
    node replaced by copies, once per collect(); mine: id -> copy."""
    if id(root) not in mine:
        root = dict(root) if isinstance(root, dict) else list(root)
        mine[id(root)] = root
    node = root
    for s in segs:
        y = node[s]
        if id(y) not in mine:
            y = dict(y) if isinstance(y, dict) else list(y)
            mine[id(y)] = y
            node[s] = y
        node = y
    return root, node
