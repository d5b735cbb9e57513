"""Tools for tests and benchmarks, not part of the library (tests import `tools.simserver`;
benchmarks put this folder on sys.path and import `simserver`)."""
