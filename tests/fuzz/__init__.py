"""Random-program fuzzing of the compiler: a seeded generator, the checker and a long-run script."""
