"""The demo world and the live ticket simulator."""
