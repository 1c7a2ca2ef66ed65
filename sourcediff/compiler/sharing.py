"""The message for an in-place change refused because another name holds the same array
(``c = z; z.sort()``): it names that other name, which the plain message did not (review38).

Example: ``z.sort(...) changes z in place, and c holds the same array (c = z): ...``."""

from ..errors import SourcediffSyntaxError
from ..rules.facts import CONTAINER_ONLY_METHODS


def sharers(aliases, obj, origin_of):
    """The user's names other than ``obj`` that may hold ``obj``'s array, from the analysis'
    (target, source) pairs of possible memory sharing."""
    out = []
    for target, source in aliases:
        other = source if target == obj else target if source == obj else None
        if other is None or other == obj:
            continue
        shown = origin_of(other)
        if not shown.startswith("_") and shown != origin_of(obj) and shown not in out:
            out.append(shown)
    return out


_NEW_VALUE = {"reverse": "{o}[::-1]", "sort": "sorted({o}) or np.sort({o})", "extend": "{o} + list(s)",
              "insert": "{o}[:i] + [v] + {o}[i:]", "clear": "[]", "append": "{o} + [v]"}


def in_place_error(where, obj, method, line, aliases, origin_of, result=None):
    """The error for ``obj.method(...)`` changing ``obj`` (a name carrying a derivative) in place;
    ``result``, the name its value is assigned to (``r = items.reverse()``), which is None."""
    shown, others = origin_of(obj), sharers(aliases, obj, origin_of)
    if result is not None and method != "pop":
        fix = _NEW_VALUE.get(method, "a new value").format(o=shown)
        return SourcediffSyntaxError(
            f"{where}: {shown}.{method}(...) changes {shown} in place and returns None, so "
            f"{result} is None here, not the changed {shown}; call {shown}.{method}(...) as a "
            f"statement of its own and read {shown}, or build the new value ({result} = "
            f"{fix}).\n    {line}")
    if method in CONTAINER_ONLY_METHODS:
        return container_method_error(where, shown, method, line)
    if others:
        fix = f"{shown} = np.sort({shown})" if method == "sort" else f"{shown} = ..."
        return SourcediffSyntaxError(
            f"{where}: {shown}.{method}(...) changes {shown} in place, and {others[0]} holds its "
            f"array (or a view of it): numpy would change {others[0]} too, which "
            f"sourcediff does not differentiate; copy it first ({others[0]} = {shown}.copy()) "
            f"or assign a new array ({fix}).\n    {line}")
    return SourcediffSyntaxError(
        f"{where}: {shown}.{method}(...) changes {shown} in place, which sourcediff does not "
        f"differentiate; build a new list or array instead (for lists, append is supported)."
        f"\n    {line}")


def write_error(where, obj, what, line, aliases, origin_of):
    """The error for ``what`` (np.copyto(z, v), z[...] = v, out=z) writing into ``obj`` in
    place where sourcediff cannot follow it; it names a name sharing ``obj``'s array."""
    shown, others = origin_of(obj), sharers(aliases, obj, origin_of)
    shared = f", and {others[0]} holds its array (or a view of it): numpy would change " \
        f"{others[0]} too, which" if others else ", which"
    copy = f"copy it first ({others[0]} = {shown}.copy()), or " if others else ""
    return SourcediffSyntaxError(
        f"{where}: {what} writes into {shown} in place{shared} sourcediff does not "
        f"differentiate; {copy}assign the result instead ({shown} = ...), or {shown}[...] = ... "
        f"to fill the array.\n    {line}")


_CONTAINER_FIX = {
    "update": "{o}[key] = value for each item", "setdefault": "if key not in {o}: {o}[key] = value",
    "append": "{o} = {o} + [v]", "extend": "{o} = {o} + list(s)",
    "insert": "{o} = {o}[:i] + [v] + {o}[i:]", "clear": "{o} = []", "reverse": "{o} = {o}[::-1]"}


def container_method_error(where, shown, method, line):
    """The error for a list's or dict's own method (``p.update({...})`` on a parameter,
    ``L[1].append(v)``) changing, in place, a container that carries a derivative where
    sourcediff does not rewrite the call as the stores it makes (it does on a list or dict the
    function makes under a name of its own): it changes the container's items, no array."""
    fix = _CONTAINER_FIX.get(method, "{o} = ... (a new list or dict without the item)")
    return SourcediffSyntaxError(
        f"{where}: {shown}.{method}(...) changes the list or dict {shown} in place (its items; "
        f"no array is written). sourcediff follows such a call only on a list or dict made in "
        f"this function under a name of its own ([...], {{...}}), with the items written out in "
        f"the call; write {fix.format(o=shown)} instead.\n    {line}")
