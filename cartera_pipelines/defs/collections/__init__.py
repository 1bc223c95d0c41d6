"""collections: the daily assignment of overdue contracts to collection houses (DESIGN §3)."""
