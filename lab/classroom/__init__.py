"""Class mode: one lab per trainee on one host (`lab class ...`), and what a trainer's tools read."""
