"""Tests that try to break rutrans: malformed input, killed processes, lost services, load."""
