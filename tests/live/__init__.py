"""Live parity tests: nb against the reference C binary named by ``NB_C_BIN`` (marker live)."""
