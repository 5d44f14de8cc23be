"""Security groups and Windows firewalls, enforced by the kernel (docs/network.md).

compiler.py   desired state + Windows firewall rules → one nftables table (pure)
hosts.py      the Windows firewall of InstanceRDC / InstanceOkta, kept under <state>/firewall/
nft.py        running `nft` on the host or in a container's network namespace
enforce.py    applying it (kernel, or the fallback: drop faults in the receiving services)
gate.py       a container's service waits until its namespace has the rules (fail closed)
enforcer.py   the per-lab process: long-polls the ec2 service, applies, reports counters
lifecycle.py  start/stop the enforcer, remove what it added, what `lab up`/`lab status` say;
              `change` and `reset` of the Windows firewall (lab firewall, lab reset, scenarios)
scenario_steps.py  the `ec2` and `firewall` scenario steps ($sg:/$sgr: names for ids)
"""
