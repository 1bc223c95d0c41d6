"""factoring: invoice cession operations — overdue batch, credit exposure, outbox webhooks."""
