# The sample project is another team's suite, run by test_sample_project.py in a venv of its own;
# this suite must not collect it.
collect_ignore = ["sample_project"]
