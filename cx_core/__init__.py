"""Tandem's core: triage, knowledge, drafting, planning, policy, actions, audit and the demo world."""

__version__ = "0.1.0"
