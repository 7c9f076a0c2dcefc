"""Crash-safe file writes (`atomic`) and the fault points the reliability tests use (`faults`)."""
