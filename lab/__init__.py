"""The lab's control plane: the `lab` CLI, the runtimes, the client and the scenario runner.

It talks to the services only over the network and never imports `services`: the console script
runs with the venv's bin/ first on sys.path, where impacket installs a `services.py` of its own.
"""
