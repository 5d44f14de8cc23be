"""The `lab` command's subcommands, one module per job; lab/cli.py parses and dispatches."""
