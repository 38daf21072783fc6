"""Domain packs the tests build on: small, written the way a new team writes one."""
