"""Long fuzz run: ``python -m tests.fuzz.run --count 10000 [--seed S] [--jobs 2] [--out DIR]
[--force construct,...]``."""

import argparse
import collections
import multiprocessing
import os
import re
import sys
import tempfile
import time

from tests.fuzz.generator import DEFAULT_FEATURES, FEATURES, generate, load

_state = {}


def _init(features, forced=frozenset(), modes=frozenset()):
    from tests.fuzz import check

    check.EXTRA_MODES.update(modes)
    _state["features"] = features
    _state["forced"] = forced
    _state["dir"] = tempfile.mkdtemp(prefix="sdfuzz_run_")


def _one(seed):
    from tests.fuzz.check import check_program

    prog = generate(seed, _state["features"], _state.get("forced", frozenset()))
    try:
        module = load(prog, _state["dir"])
    except Exception as exc:  # noqa: BLE001  (a module that does not import is a generator bug)
        return seed, "invalid", f"import failed: {exc!r}", prog.source, sorted(prog.features)
    result = check_program(module, seed)
    sys.modules.pop(module.__name__, None)
    return seed, result.kind, result.detail, result.source, sorted(prog.features)


def _signature(kind, detail):
    """A short key grouping failures of the same kind (exception line or mismatch oracle)."""
    head = detail.split("--- generated")[0].strip().splitlines()
    exc = [line for line in head if re.match(r"^[\w.]+(Error|Exception)\b", line)]
    line = exc[-1] if exc else (head[0] if head else "")
    line = re.sub(r"fuzz_\d+\.py:\d+", "<prog>", line)
    line = re.sub(r"-?\d+\.\d+(e-?\d+)?", "N", line)
    return f"{kind}: {line[:150]}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="first program seed")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="fuzz-failures", help="directory for failing programs")
    ap.add_argument("--features", default="default",
                    help="'default', 'all', or a comma list of features to leave out (-name)")
    ap.add_argument("--time-limit", type=float, default=0,
                    help="stop starting new programs after this many seconds (0: no limit)")
    ap.add_argument("--force", default="",
                    help="a comma list of constructs every program gets (e.g. object_cache)")
    ap.add_argument("--modes", default="",
                    help="a comma list of extra modes to check: numba, hvp, jacobian, second")
    opts = ap.parse_args(argv)
    modes = frozenset(m for m in opts.modes.split(",") if m)
    forced = frozenset(f for f in opts.force.split(",") if f)
    unknown = forced - FEATURES
    if unknown:
        ap.error(f"unknown constructs: {', '.join(sorted(unknown))}")
    features = set(DEFAULT_FEATURES)
    if opts.features == "all":
        features = set(FEATURES)
    elif opts.features != "default":
        for item in opts.features.split(","):
            (features.discard if item.startswith("-") else features.add)(item.lstrip("-+"))
    os.makedirs(opts.out, exist_ok=True)
    counts = collections.Counter()
    groups = collections.defaultdict(list)
    feature_counts = collections.Counter()
    start = time.time()
    seeds = range(opts.seed, opts.seed + opts.count)
    with multiprocessing.Pool(opts.jobs, initializer=_init, initargs=(frozenset(features), forced, modes),
                              maxtasksperchild=500) as pool:
        for seed, kind, detail, source, feats in pool.imap_unordered(_one, seeds, chunksize=4):
            counts["programs"] += 1
            counts[kind] += 1
            feature_counts.update(feats)
            if kind not in ("ok", "skipped"):
                groups[_signature(kind, detail)].append(seed)
                with open(os.path.join(opts.out, f"{kind}_{seed}.py"), "w") as fh:
                    fh.write(f"# seed {seed}: {kind}\n# " + "\n# ".join(detail.splitlines())
                             + "\n\n" + source)
            if counts["programs"] % 500 == 0:
                print(f"... {counts['programs']} programs, {dict(counts)}, "
                      f"{time.time() - start:.0f} s", flush=True)
            if opts.time_limit and time.time() - start > opts.time_limit:
                pool.terminate()
                break
    elapsed = time.time() - start
    print(f"\nprograms {counts['programs']}  ok {counts['ok']}  wrong {counts['wrong']}  "
          f"internal errors {counts['internal']}  refused {counts['refused']}  "
          f"skipped {counts['skipped']}  invalid (generator) {counts['invalid']}  "
          f"in {elapsed:.0f} s with {opts.jobs} jobs")
    if groups:
        print(f"\nfailures by signature (programs written to {opts.out}/):")
        for key, seeds_ in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(seeds_):5d}  {key}   e.g. seeds {sorted(seeds_)[:5]}")
    print("\nconstructs generated (programs using each):")
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(feature_counts.items())))
    return 0 if counts["wrong"] == counts["internal"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
