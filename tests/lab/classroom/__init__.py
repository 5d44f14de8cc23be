"""Class mode: the subnet allocator, a class of process labs, a class in containers."""
