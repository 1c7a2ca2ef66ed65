"""Names in generated code: fresh names that collide with nothing in the user's function (``Names``),
and the names under which generated code reaches the objects it calls (``GlobalNames``).
"""

import keyword


class Names:
    """Deterministic fresh names that collide with nothing in the user's function."""

    def __init__(self, taken):
        self.taken = set(taken)
        self.counts = {}

    def fresh(self, hint):
        """``_hint1``, ``_hint2``, ... skipping any name already in use."""
        hint = "".join(c for c in hint if c.isalnum() or c == "_").strip("_") or "t"
        while True:
            self.counts[hint] = self.counts.get(hint, 0) + 1
            name = f"_{hint}{self.counts[hint]}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def exact(self, name):
        """``name`` itself if free, else a fresh variant of it."""
        if name not in self.taken:
            self.taken.add(name)
            return name
        return self.fresh(name)


class GlobalNames:
    """Names under which rule globals (``np``, ``_sd``) and other objects appear in generated code."""

    def __init__(self, taken, user_lookup):
        self.taken = taken  # Names of the function being generated
        self.user_lookup = user_lookup  # name -> object the user's code sees, or a sentinel
        self.bound = {}  # emitted name -> object
        self.by_id = {}
        # what inlined rules of the user's own bind (rules/quote.py): the rule functions whose
        # closure values are bound (an ordered set), and (module dict, name, object) of globals
        self.closures, self.rule_globals = {}, {}

    def name(self, wanted, obj):
        key = id(obj)
        if key in self.by_id:
            return self.by_id[key]
        name = wanted = _identifier(wanted)
        user = self.user_lookup(name)
        if (name in self.taken.taken and user is not obj) or \
                (name in self.bound and self.bound[name] is not obj):
            name = self.taken.fresh(wanted)
        self.bound[name] = obj
        self.by_id[key] = name
        return name


def _identifier(text):
    """``text`` as a Python identifier (``<lambda>_bwd`` -> ``lambda_bwd``)."""
    if text.isidentifier() and not keyword.iskeyword(text):
        return text
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_")
    return out if out.isidentifier() and not keyword.iskeyword(out) else f"fn_{out}"
