"""The trainer's dashboard: the lab as a live picture, a scenario launcher, the demo's knobs and,
for a class, one tile per trainee. A control-plane process (lifecycle.py); see README.md."""
