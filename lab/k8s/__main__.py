"""`python -m lab.k8s --trainees N --out DIR`: the same as `lab class manifests`."""
import sys

from .cli import main

sys.exit(main())
