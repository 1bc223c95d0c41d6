"""Schema migrations of the stores we own (the warehouse); see ``lib/schema.py``."""
