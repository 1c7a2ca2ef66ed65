"""Shrink a failing program by deleting statements while the same failure persists (a first pass
before the hand minimization); ``python -m tests.fuzz.shrink SEED`` prints the smaller program."""

import argparse
import ast
import copy
import re
import signal
import tempfile

from tests.fuzz.check import check_program
from tests.fuzz.generator import generate, load_source


def signature(result):
    """What must stay the same while shrinking: the kind and the exception type or mismatch."""
    if result.kind == "internal":
        text = result.detail.split("--- generated")[0]
        found = re.findall(r"^(\w+(?:Error|Exception)):", text, re.M)
        head = result.detail.splitlines()[0][:40]
        return result.kind, found[-1] if found else head
    if result.kind == "wrong":
        return result.kind, result.detail.split(":")[0][:30]
    return result.kind, ""


def _bodies(tree):
    for node in ast.walk(tree):
        for name in ("body", "orelse"):
            body = getattr(node, name, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                yield node, name


def _spots(tree):
    return [(node, name, i) for node, name in _bodies(tree) for i in range(len(getattr(node, name)))]


def _variant(tree, k, mode):
    """A copy of ``tree`` with statement ``k`` dropped (or a compound one replaced by its body),
    or None when that edit does not apply."""
    t = copy.deepcopy(tree)
    spots = _spots(t)
    if k >= len(spots):
        return None
    node, name, i = spots[k]
    body = getattr(node, name)
    stmt = body[i]
    if isinstance(node, ast.Module) and (not isinstance(stmt, ast.FunctionDef) or stmt.name == "f"):
        return None
    if mode == "drop":
        if isinstance(stmt, ast.Return) and isinstance(node, ast.FunctionDef) and i == len(body) - 1:
            return None
        new = body[:i] + body[i + 1:]
        if not new and name == "body":
            new = [ast.Pass()]
    else:
        inner = getattr(stmt, "body", None)
        if not isinstance(stmt, (ast.If, ast.For, ast.While)) or not inner:
            return None
        new = body[:i] + inner + body[i + 1:]
    setattr(node, name, new)
    return t


class _Timeout(Exception):
    pass


def _timeout(signum, frame):
    raise _Timeout()


def shrink(text, seed, keep=None, max_passes=10):
    """The smallest program found (by statement deletion) with the same :func:`signature`."""
    directory = tempfile.mkdtemp(prefix="sdshrink_")
    counter = [0]

    def run(src):
        counter[0] += 1
        signal.signal(signal.SIGALRM, _timeout)
        signal.alarm(10)  # a deletion can make a while loop endless
        try:
            mod = load_source(src, f"shrink{counter[0]}", directory)
            return check_program(mod, seed)
        except Exception:  # noqa: BLE001  (a deletion that breaks the module)
            return None
        finally:
            signal.alarm(0)

    target = keep or signature(run(text))
    tree = ast.parse(text)
    for _ in range(max_passes):
        changed, k = False, 0
        while k < len(_spots(tree)):
            for mode in ("drop", "inline"):
                cand = _variant(tree, k, mode)
                if cand is None:
                    continue
                res = run(ast.unparse(cand))
                if res is not None and signature(res) == target:
                    tree, changed = cand, True
                    break
            else:
                k += 1
        if not changed:
            break
    return ast.unparse(tree) + "\n", target


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("seed", type=int)
    opts = ap.parse_args()
    prog = generate(opts.seed)
    small, target = shrink(prog.source, opts.seed)
    print(f"# {target}")
    print(small)


if __name__ == "__main__":
    main()
