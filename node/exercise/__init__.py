"""Exercises on the node: conducting runs (the controller), delivery receipts (every node)."""
