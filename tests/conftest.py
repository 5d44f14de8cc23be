"""The tests' shared fixtures. `tests` is a package, so pytest puts the repository's root on
sys.path and `from tests.support import ...` works in every test module."""

pytest_plugins = ["tests.support.fixtures"]
