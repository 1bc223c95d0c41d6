"""Small shared helpers used by several families (metadata, bulk writes). No Dagster definitions here."""
