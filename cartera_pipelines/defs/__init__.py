"""One folder per family; each is loaded by ``load_from_defs_folder``."""
