"""The scenario runner: end-to-end stories from the walkthrough and from real failures, judged by
what crossed the wire (the services' merged events)."""
