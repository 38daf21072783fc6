"""The airline domain pack: an airline's reservation systems and policy, built from τ-bench airline."""
