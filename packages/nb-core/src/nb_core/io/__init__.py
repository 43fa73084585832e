"""nb_core.io: readers and writers for the files nanoBragg reads and writes."""
