"""nb_core: the nb engine (filled in as modules land)."""
