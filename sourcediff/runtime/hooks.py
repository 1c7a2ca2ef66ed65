"""What the runtime needs from the compiler above it, filled in when :mod:`sourcediff.api` is
imported.

The runtime sits below the compiler: generated code calls it, and it imports nothing of the
compiler. A few helpers still need the compiler at run time: a callable met only then
(``self.act_fn(z)``) is compiled to its forward and backward forms (:func:`split_form`) or its
jvp form (:func:`jvp_form`); a primitive met then runs its rule sliced to the arguments that carry
derivatives (:func:`sliced_rule`); and an error raised in generated code names the user's line
(:func:`generated_line`, :func:`outermost`). ``sourcediff.api`` sets these module attributes when
it is imported (``import sourcediff`` does)::

    runtime.hooks.split_form = split_form

Reading one that is not set raises a RuntimeError that says so.
"""

NAMES = {
    "split_form": "compiles a function met at run time to its forward and backward forms",
    "jvp_form": "compiles a function met at run time to its jvp form",
    "sliced_rule": "a derivative rule sliced to the arguments that carry derivatives",
    "generated_line": "the user's line of a line of generated code",
    "outermost": "a line of generated code followed back to the user's own line",
    "mutated_params": "the parameters a Python function writes into in place",
    "method_writes": "the parameters a method of a class writes into in place, and how",
    "method_of": "a method's function seen with the class of its receiver (compiler.resolve)",
    "constructor_function": "a function that builds an object of a class met at run time by "
                            "the class's own name (cls(...) in a classmethod)",
}


def __getattr__(name):
    if name in NAMES:
        raise RuntimeError(
            f"sourcediff.runtime.hooks.{name} ({NAMES[name]}) is not set: sourcediff.api sets it "
            f"when it is imported; import sourcediff before running generated code")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
