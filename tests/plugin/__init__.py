"""The pytest plugin, from a project of its own that installs the lab from its wheel."""
