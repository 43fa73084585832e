"""nb_parity: proof that nb matches the nanoBragg C program."""
