"""The errors the `lab` command reports in one line, with exit code 2."""
from __future__ import annotations


class LabError(Exception):
    """The lab cannot do what was asked: it is not running, a port is taken, a service is unhealthy."""


class UsageError(Exception):
    """The command line asked for something that does not exist (a service, a scenario)."""
