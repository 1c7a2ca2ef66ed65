"""Benchmark runner: interleaved one-thread float64 gradient timings vs hand-written numpy."""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS",
                      "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # benchmark the working tree's sourcediff

import numpy as np
import workloads as W

if W.torch is not None:
    W.torch.set_num_threads(1)
    try:
        W.torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
if W.jax is not None:
    W.jax.config.update("jax_enable_x64", True)

COLUMNS = ["numpy forward", "hand-written", "sourcediff", "sourcediff numba", "sourcediff tape",
           "autograd", "torch eager", "jax eager", "jax jit"]
COMPETITORS = ["autograd", "torch eager", "jax eager"]
RTOL = 1e-6  # gradients of every column against the hand-written ones
FD_RTOL = 1e-5  # hand-written gradients against central finite differences


class Missing(Exception):
    """An optional package is not installed: the column is n/a, not an error."""


def reason(exc):
    text = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 90 else text[:87] + "..."


def to_numpy(g):
    if isinstance(g, (np.ndarray, np.generic, float, int)):
        return np.asarray(g, dtype=np.float64)
    if hasattr(g, "detach"):  # torch
        return g.detach().numpy()
    if isinstance(getattr(g, "data", None), (np.ndarray, np.generic, float)):  # a tape Tensor
        return np.asarray(g.data, dtype=np.float64)
    if hasattr(g, "numpy"):
        return np.asarray(g.numpy(), dtype=np.float64)
    return np.asarray(g, dtype=np.float64)


def as_tuple(grads):
    return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)


def leaves(tree):
    """The arrays and numbers of a list / tuple / dict tree, in order (dicts by sorted key)."""
    if isinstance(tree, dict):
        return [x for k in sorted(tree) for x in leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [x for item in tree for x in leaves(item)]
    return [tree]


def tree_map(fn, tree):
    """``tree`` with ``fn`` applied to every leaf (in the order of ``leaves``), the lists, tuples
    and dicts kept."""
    if isinstance(tree, dict):
        return {k: tree_map(fn, tree[k]) for k in sorted(tree)}
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(fn, item) for item in tree)
    return fn(tree)


def is_tree(x):
    return isinstance(x, (list, tuple, dict))


def compare(got, ref):
    """None if the gradients match the hand-written ones (the leaves of both, when a gradient is
    a list / tuple / dict of arrays, as for parameters held that way), else a short description."""
    got, ref = leaves(as_tuple(got)), leaves(ref)  # (torch and the tape give the leaves)
    if len(got) != len(ref):
        return f"{len(got)} gradient arrays, expected {len(ref)}"
    for k, (g, r) in enumerate(zip(got, ref)):
        g = to_numpy(g)
        if np.shape(g) != np.shape(r):
            return f"gradient {k} has shape {np.shape(g)}, expected {np.shape(r)}"
        scale = float(np.max(np.abs(r))) if np.size(r) else 0.0
        if not np.allclose(g, r, rtol=RTOL, atol=1e-9 * scale):
            err = float(np.max(np.abs(g - r)))
            return f"gradient {k} differs (max abs err {err:.3g}, scale {scale:.3g})"
    return None


# ---------------------------------------------------------------- one builder per column
# Each takes (workload, args) and returns a thunk that computes the gradients once.


def build_forward(wl, args):
    return lambda: wl.loss(*args)


def build_hand(wl, args):
    return lambda: wl.grad(*args)


def import_sourcediff():
    import sourcediff

    return sourcediff


def build_sourcediff(wl, args):
    sd = import_sourcediff()
    df = sd.grad(wl.loss, wrt=wl.wrt)
    return lambda: df(*args)


def build_numba(wl, args):
    """sourcediff with backend="numba"; the first call (timed by run_workload) compiles. A
    signature numba cannot compile runs as numpy code: not this column's subject, so n/a."""
    sd = import_sourcediff()
    try:
        import numba  # noqa: F401
    except ImportError:
        raise Missing("numba not installed (pip install 'sourcediff[jit]')") from None
    df = sd.grad(wl.loss, wrt=wl.wrt, backend="numba")
    state = {"checked": False}

    def run():
        if not state["checked"]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sd.JitFallbackWarning)
                out = df(*args)
            state["checked"] = True
            fell = [r["reason"] for r in df.jit_log if r["backend"] != "numba"]
            if fell:
                raise RuntimeError(f"ran as numpy code: {fell[0]}")
            run.compile_s = sum(r["seconds"] for r in df.jit_log)
            return out
        return df(*args)

    return run


def build_tape(wl, args):
    from sourcediff import tape as T

    # leaves made once and T.autograd.grad, as the torch column does (torch.autograd.grad)
    full = list(args)
    made = []

    def leaf(value):
        made.append(T.tensor(np.asarray(value, dtype=np.float64), requires_grad=True))
        return made[-1]

    for i in wl.wrt:
        full[i] = tree_map(leaf, args[i])
    return lambda: T.autograd.grad(wl.loss(*full), made)


def build_autograd(wl, args):
    if W.anp is None or wl.autograd_loss is None:
        raise Missing("autograd not installed")
    import autograd

    def packed(params):
        full = list(args)
        for i, p in zip(wl.wrt, params):
            full[i] = p
        return wl.autograd_loss(*full)

    g = autograd.grad(packed)
    params = tuple(args[i] for i in wl.wrt)
    return lambda: g(params)


def build_torch(wl, args):
    torch = W.torch
    if torch is None or wl.torch_loss is None:
        raise Missing("torch not installed")
    full = []
    for i, a in enumerate(args):
        if i in wl.wrt:
            full.append(tree_map(lambda a: torch.tensor(np.asarray(a), dtype=torch.float64,
                                                        requires_grad=True), a))
        elif isinstance(a, np.ndarray):
            full.append(torch.from_numpy(a))
        else:
            full.append(a)
    params = [x for i in wl.wrt for x in leaves(full[i])]
    return lambda: torch.autograd.grad(wl.torch_loss(*full), params)


def _jax_args(args):
    return [tree_map(lambda a: W.jnp.asarray(a) if isinstance(a, np.ndarray) else a, a)
            for a in args]


def build_jax_eager(wl, args):
    if W.jax is None or wl.jax_loss is None:
        raise Missing("jax not installed")
    jargs = _jax_args(args)
    g = W.jax.grad(wl.jax_loss, argnums=wl.wrt)
    return lambda: W.jax.block_until_ready(g(*jargs))


def build_jax_jit(wl, args):
    if W.jax is None or wl.jax_loss is None:
        raise Missing("jax not installed")
    jargs = _jax_args(args)
    g = W.jax.jit(W.jax.grad(wl.jax_jit_loss or wl.jax_loss, argnums=wl.wrt))
    return lambda: W.jax.block_until_ready(g(*jargs))


BUILDERS = {
    "numpy forward": build_forward,
    "hand-written": build_hand,
    "sourcediff": build_sourcediff,
    "sourcediff numba": build_numba,
    "sourcediff tape": build_tape,
    "autograd": build_autograd,
    "torch eager": build_torch,
    "jax eager": build_jax_eager,
    "jax jit": build_jax_jit,
}


# ---------------------------------------------------------------- timing


def time_calls(thunk, n):
    """Mean seconds per call over n back-to-back calls, garbage collector paused."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            thunk()
        return (time.perf_counter() - t0) / n
    finally:
        if enabled:
            gc.enable()


def calibrate(thunk, target):
    """Inner loop count so that one timing lasts about `target` seconds."""
    n = 1
    while True:
        per_call = time_calls(thunk, n)
        if per_call * n >= target / 4 or n >= 1_000_000:
            return max(1, round(target / per_call))
        n *= 10 if per_call * n < target / 100 else 4


def fmt_us(seconds):
    us = seconds * 1e6
    return f"{us:,.0f}" if us >= 100 else f"{us:.1f}"


# ---------------------------------------------------------------- finite-difference check


def fd_check(wl, args, grads):
    """Failures of the hand-written gradient against central differences, one line each."""
    failures = []
    rng = np.random.default_rng(12345)
    for k, i in enumerate(wl.wrt):
        a = args[i]
        vs = tree_map(lambda x: rng.standard_normal(np.shape(x)), a)
        norm = np.sqrt(sum(float(np.sum(v * v)) for v in leaves(vs)))
        vs = tree_map(lambda v: v / norm, vs)
        h = 1e-6 * max(1.0, max(float(np.max(np.abs(x))) for x in leaves(a)))

        def move(x, v, step, h):
            moved = np.asarray(x) + step * h * v
            return float(moved) if np.ndim(x) == 0 else moved

        def at(step, i=i, a=a, h=h, vs=vs):
            full = list(args)
            if is_tree(a):
                flat = iter(leaves(vs))
                full[i] = tree_map(lambda x: move(x, next(flat), step, h), a)
            else:
                full[i] = move(a, vs, step, h)
            return float(wl.loss(*full))

        fd = (at(1.0) - at(-1.0)) / (2.0 * h)
        an = float(sum(np.sum(to_numpy(g) * v) for g, v in zip(leaves(grads[k]), leaves(vs))))
        err = abs(fd - an) / max(abs(fd), abs(an), 1e-300)
        if not err <= FD_RTOL:
            failures.append(f"{wl.name} argument {i}: hand-written directional derivative "
                            f"{an:.10g}, finite differences {fd:.10g} (relative error {err:.2g})")
    return failures


# ---------------------------------------------------------------- transform timings


def _warmup_loss(x):
    return np.sum(np.sin(x) * x)


def measure_transforms(wls, target):
    """Transform time (first grad(f)) and cached grad(f) cost per workload, before anything else."""
    out = {"error": None, "note": "", "cold_ms": None, "rows": {}}
    try:
        sd = import_sourcediff()
        if not hasattr(sd, "grad"):
            raise AttributeError("module 'sourcediff' has no attribute 'grad'")
    except Exception as exc:  # noqa: BLE001
        out["error"] = reason(exc)
        return out
    clear = getattr(sd, "clear_cache", None)
    if clear is None:
        out["note"] = "no sourcediff.clear_cache(): each transform measured once (first grad)"
    try:
        t0 = time.perf_counter()
        sd.grad(_warmup_loss, wrt=0)
        out["cold_ms"] = (time.perf_counter() - t0) * 1e3
    except Exception as exc:  # noqa: BLE001
        out["note"] += f" (warm-up transform failed: {reason(exc)})"
    for wl in wls:
        row = {}
        try:
            times = []
            for _ in range(5 if clear else 1):
                if clear:
                    clear()
                t0 = time.perf_counter()
                sd.grad(wl.loss, wrt=wl.wrt)
                times.append(time.perf_counter() - t0)
            row["transform_ms"] = statistics.median(times) * 1e3

            def again(wl=wl):
                return sd.grad(wl.loss, wrt=wl.wrt)

            n = calibrate(again, target)
            row["cached_us"] = statistics.median(time_calls(again, n) for _ in range(5)) * 1e6
        except Exception as exc:  # noqa: BLE001
            row["error"] = reason(exc)
        out["rows"][wl.name] = row
    return out


# ---------------------------------------------------------------- memory


def peak_bytes(thunk):
    """tracemalloc peak (numpy buffers included) of one call, above what was live before it."""
    thunk()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = thunk()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak - base


# ---------------------------------------------------------------- one workload


def run_workload(wl, rounds, target, stats):
    """Verify, calibrate and time every column of one workload; returns a result dict."""
    res = {"cols": {}, "fd": None, "mem": {}, "first_call_ms": None}
    args = wl.make_inputs(np.random.default_rng(0))
    thunks, ref = {}, None
    for col in COLUMNS:
        entry = {"status": "ok"}
        res["cols"][col] = entry
        try:
            thunk = BUILDERS[col](wl, args)
            t0 = time.perf_counter()
            got = thunk()
            if col == "sourcediff":
                res["first_call_ms"] = (time.perf_counter() - t0) * 1e3
            if col == "sourcediff numba":
                res["compile_s"] = getattr(thunk, "compile_s", None)
            if col == "hand-written":
                ref = tuple(tree_map(to_numpy, g) for g in as_tuple(got))
            elif col != "numpy forward":
                if ref is None:
                    raise RuntimeError("no hand-written reference to compare with")
                problem = compare(got, ref)
                if problem:
                    entry.update(status="wrong", reason=problem)
                    stats["wrong"] += 1
                    continue
            thunks[col] = thunk
        except Missing as exc:
            entry.update(status="missing", reason=str(exc))
            stats["missing"] += 1
        except Exception as exc:  # noqa: BLE001
            entry.update(status="error", reason=reason(exc))
            stats["errors"] += 1
    if ref is not None and stats["check"]:
        res["fd"] = fd_check(wl, args, ref)
    counts = {}
    for col, thunk in list(thunks.items()):
        try:
            counts[col] = calibrate(thunk, target)
        except Exception as exc:  # noqa: BLE001
            res["cols"][col].update(status="error", reason=reason(exc))
            stats["errors"] += 1
            del thunks[col]
    times = {col: [] for col in thunks}
    for r in range(rounds):
        order = list(thunks)
        order = order[r % len(order):] + order[:r % len(order)] if order else order
        for col in order:
            try:
                times[col].append(time_calls(thunks[col], counts[col]))
            except Exception as exc:  # noqa: BLE001
                res["cols"][col].update(status="error", reason=reason(exc))
                stats["errors"] += 1
                del thunks[col]
        gc.collect()
    hand = times.get("hand-written")
    for col, ts in times.items():
        if col not in thunks or not ts:
            continue
        entry = res["cols"][col]
        entry["median"] = statistics.median(ts)
        entry["inner"] = counts[col]
        if hand and len(hand) == len(ts):
            entry["ratio"] = statistics.median(t / h for t, h in zip(ts, hand))
    if wl.name == "W4":
        for col in ("hand-written", "sourcediff", "sourcediff tape", "autograd"):
            if col in thunks:
                try:
                    res["mem"][col] = peak_bytes(thunks[col])
                except Exception as exc:  # noqa: BLE001
                    res["mem"][col] = reason(exc)
    return res


def print_workload(wl, res, rounds):
    print(f"\n== {wl.name}  {wl.title}   wrt={wl.wrt}   {rounds} rounds")
    print(f"   {'column':<17}{'median µs':>12}{'/ hand':>9}{'inner':>8}")
    for col in COLUMNS:
        e = res["cols"][col]
        if "median" in e:
            ratio = f"{e['ratio']:.2f}" if "ratio" in e else "n/a"
            print(f"   {col:<17}{fmt_us(e['median']):>12}{ratio:>9}{e['inner']:>8}")
        elif e["status"] == "wrong":
            print(f"   {col:<17}{'WRONG':>12}   ({e['reason']})")
        else:
            print(f"   {col:<17}{'n/a':>12}   ({e.get('reason', 'not timed')})")
    if res["first_call_ms"] is not None:
        print(f"   sourcediff first call (after grad()): {res['first_call_ms']:.2f} ms")
    if res.get("compile_s") is not None:
        print(f"   sourcediff numba compile (first call): {res['compile_s']:.2f} s")
    if res["fd"] is None:
        print("   hand-written gradient vs central differences: not checked")
    elif not res["fd"]:
        print(f"   hand-written gradient vs central differences: ok (rtol {FD_RTOL:g})")
    for line in res["fd"] or ():
        print(f"   !!! FD CHECK FAILED: {line}")


# ---------------------------------------------------------------- summary


def cell(res, col):
    e = res["cols"][col]
    if e["status"] == "wrong":
        return "WRONG"
    return f"{e['ratio']:.2f}" if "ratio" in e else "n/a"


def summarize(results, transforms):
    """(target, verdict, detail) for every speed target."""
    rows = []

    def sd_ratio(name, limit):
        label = f"{name} sourcediff / hand-written <= {limit:.2f}"
        if name not in results:
            return label, "n/a", "workload not run"
        e = results[name]["cols"]["sourcediff"]
        if e["status"] == "wrong":
            return label, "NOT MET", "gradient WRONG"
        if "ratio" not in e:
            return label, "n/a", e.get("reason", "not timed")
        return label, "MET" if e["ratio"] <= limit else "NOT MET", f"{e['ratio']:.2f}"

    # (the targets of the speed issue: W1 and W3 at most the hand-written cost, W2 a fifth of it)
    for name, limit in (("W1", 1.00), ("W2", 0.20), ("W3", 1.00), ("W4", 0.80), ("W5", 0.80),
                        ("W6", 1.00)):
        rows.append(sd_ratio(name, limit))
    for name, limit in (("W5", 0.50), ("W6", 0.10)):
        label = f"{name} sourcediff numba / hand-written <= {limit:.2f}"
        e = results[name]["cols"]["sourcediff numba"] if name in results else None
        if e is None:
            rows.append((label, "n/a", "workload not run"))
        elif e["status"] == "wrong":
            rows.append((label, "NOT MET", "gradient WRONG"))
        elif "ratio" not in e:
            rows.append((label, "n/a", e.get("reason", "not timed")))
        else:
            compile_s = results[name].get("compile_s")
            rows.append((label, "MET" if e["ratio"] <= limit else "NOT MET",
                         f"{e['ratio']:.2f}, compiled in {compile_s:.2f} s"))
    for name in ("W7", "W8"):  # (np.dot code at the cost of the same model with @)
        rows.append(sd_ratio(name, 1.10))

    label = "sourcediff faster than autograd, torch eager, jax eager on every workload"
    slower, compared, missing = [], 0, []
    for name, res in results.items():
        sd = res["cols"]["sourcediff"]
        if "median" not in sd:
            missing.append(f"{name} sourcediff")
            continue
        for comp in COMPETITORS:
            c = res["cols"][comp]
            if "median" not in c:
                missing.append(f"{name} {comp}")
                continue
            compared += 1
            if sd["median"] >= c["median"]:
                slower.append(f"{name} vs {comp} ({sd['median'] / c['median']:.2f}x)")
    absent = ("; not measured: " + ", ".join(missing[:6])
              + (" ..." if len(missing) > 6 else "")) if missing else ""
    if slower:
        rows.append((label, "NOT MET", "slower: " + ", ".join(slower) + absent))
    elif compared and not any(m.endswith("sourcediff") for m in missing):
        rows.append((label, "MET", f"{compared} comparisons{absent}"))
    else:
        rows.append((label, "n/a", f"{compared} comparisons{absent}"))

    label = "transform (first grad) of W1 <= 20 ms"
    t_row = transforms["rows"].get("W1", {})
    if transforms["error"]:
        rows.append((label, "n/a", transforms["error"]))
    elif "transform_ms" in t_row:
        ms = t_row["transform_ms"]
        rows.append((label, "MET" if ms <= 20 else "NOT MET", f"{ms:.2f} ms"))
    else:
        rows.append((label, "n/a", t_row.get("error", "W1 not run")))

    label = "cached grad(f) <= 50 µs (worst workload)"
    cached = {k: r["cached_us"] for k, r in transforms["rows"].items() if "cached_us" in r}
    if cached:
        worst = max(cached, key=cached.get)
        rows.append((label, "MET" if cached[worst] <= 50 else "NOT MET",
                     f"{cached[worst]:.1f} µs ({worst})"))
    else:
        rows.append((label, "n/a", transforms["error"] or "no measurement"))

    label = "tape no slower than torch eager on W1 and W5"
    parts, verdict = [], "MET"
    for name in ("W1", "W5"):
        if name not in results:
            verdict = "n/a" if verdict != "NOT MET" else verdict
            parts.append(f"{name} not run")
            continue
        tp, tc = results[name]["cols"]["sourcediff tape"], results[name]["cols"]["torch eager"]
        if tp["status"] == "wrong":
            verdict = "NOT MET"
            parts.append(f"{name} tape WRONG")
        elif "median" not in tp or "median" not in tc:
            verdict = "n/a" if verdict != "NOT MET" else verdict
            parts.append(f"{name} " + ("tape" if "median" not in tp else "torch") + " n/a")
        else:
            q = tp["median"] / tc["median"]
            parts.append(f"{name} tape/torch {q:.2f}")
            if q > 1.0:
                verdict = "NOT MET"
    rows.append((label, verdict, ", ".join(parts)))

    label = "W4 working memory of sourcediff within 10% of hand-written"
    mem = results.get("W4", {}).get("mem", {})
    h, s = mem.get("hand-written"), mem.get("sourcediff")
    if isinstance(h, int) and isinstance(s, int):
        rows.append((label, "MET" if s <= 1.10 * h else "NOT MET",
                     f"{s / 1e6:.2f} MB vs {h / 1e6:.2f} MB ({s / h:.2f}x)"))
    else:
        rows.append((label, "n/a", "W4 not run" if "W4" not in results else "no sourcediff"))
    return rows


# ---------------------------------------------------------------- main


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=None, help="timing rounds (default 25, quick 3)")
    p.add_argument("--quick", action="store_true", help="few rounds, short inner loops (<30 s)")
    p.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3")
    p.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                   help="check hand-written gradients against finite differences (default on)")
    opts = p.parse_args(argv)
    rounds = opts.rounds or (3 if opts.quick else 25)
    target = 0.005 if opts.quick else 0.020
    wanted = {w.strip().upper() for w in opts.only.split(",") if w.strip()}
    wls = [w for w in W.WORKLOADS if not wanted or w.name in wanted]
    unknown = wanted - {w.name for w in W.WORKLOADS}
    if unknown:
        p.error(f"unknown workloads: {', '.join(sorted(unknown))}")

    versions = [f"numpy {np.__version__}"]
    for label, mod in (("torch", W.torch), ("jax", W.jax)):
        versions.append(f"{label} {mod.__version__}" if mod is not None else f"{label} absent")
    try:
        from importlib.metadata import version

        import autograd  # noqa: F401

        versions.append(f"autograd {version('autograd')}")
    except Exception:  # noqa: BLE001
        versions.append("autograd absent")
    print(f"sourcediff benchmarks: one thread, float64, {rounds} interleaved rounds, "
          f"~{target * 1e3:.0f} ms per timing; medians; ratio = median over rounds of "
          f"column / hand-written")
    print(f"python {sys.version.split()[0]}, " + ", ".join(versions))

    started = time.perf_counter()
    transforms = measure_transforms(wls, target)  # first, while sourcediff's cache is cold
    stats = {"errors": 0, "wrong": 0, "missing": 0, "check": opts.check}
    results, fd_failures = {}, []
    for wl in wls:
        gc.collect()
        res = run_workload(wl, rounds, target, stats)
        results[wl.name] = res
        fd_failures += res["fd"] or []
        print_workload(wl, res, rounds)
        sys.stdout.flush()

    print("\n== ratios to hand-written (same rounds)")
    print("   " + f"{'':<5}" + "".join(f"{c:>17}" for c in COLUMNS))
    for name, res in results.items():
        print("   " + f"{name:<5}" + "".join(f"{cell(res, c):>17}" for c in COLUMNS))

    compiled = {name: res["compile_s"] for name, res in results.items()
                if res.get("compile_s") is not None}
    if compiled:
        print("\n== sourcediff numba: compile time of the first call (s)")
        print("   " + "  ".join(f"{name} {sec:.2f}" for name, sec in compiled.items()))

    print("\n== sourcediff transform")
    if transforms["error"]:
        print(f"   n/a ({transforms['error']})")
    else:
        if transforms["note"]:
            print(f"   note: {transforms['note']}")
        if transforms["cold_ms"] is not None:
            print(f"   first grad() in this process (warm-up function): "
                  f"{transforms['cold_ms']:.2f} ms")
        print(f"   {'':<5}{'transform ms':>14}{'cached grad() µs':>18}")
        for name, row in transforms["rows"].items():
            if "error" in row:
                print(f"   {name:<5}{'n/a':>14}   ({row['error']})")
            else:
                print(f"   {name:<5}{row['transform_ms']:>14.2f}{row['cached_us']:>18.1f}")

    if "W4" in results:
        print("\n== W4 peak working memory of one gradient call (tracemalloc)")
        mem = results["W4"]["mem"]
        hand = mem.get("hand-written")
        for col in ("hand-written", "sourcediff", "sourcediff tape", "autograd"):
            v = mem.get(col)
            if isinstance(v, int):
                ratio = f"{v / hand:.2f}x hand" if isinstance(hand, int) and hand else ""
                print(f"   {col:<17}{v / 1e6:>10.2f} MB   {ratio}")
            else:
                why = v or results["W4"]["cols"][col].get("reason", "not measured")
                print(f"   {col:<17}{'n/a':>10}   ({why})")

    print("\n== targets")
    for label, verdict, detail in summarize(results, transforms):
        print(f"   {verdict:<8} {label}   [{detail}]")

    print(f"\nerrors: {stats['errors']} column(s) failed, {stats['wrong']} WRONG gradient(s), "
          f"{stats['missing']} column(s) not installed, {len(fd_failures)} FD check failure(s); "
          f"{time.perf_counter() - started:.1f} s")
    if fd_failures:
        print("!!! hand-written gradients failed the finite-difference check:")
        for line in fd_failures:
            print(f"!!!   {line}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
