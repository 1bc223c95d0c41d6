"""alembic environment of the warehouse: one branch of revisions per family (see ``lib/schema.py``).

Run through :func:`cartera_pipelines.lib.schema.upgrade` (assets, ``cartera warehouse upgrade``), which
hands over a connection; the ``alembic`` command line falls back to ``CARTERA_WAREHOUSE_URL``.
"""

from alembic import context

from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines.settings import load_settings


def _run(connection) -> None:
    # render_as_batch: SQLite can only ALTER a table by copying it, which batch mode does for us
    context.configure(connection=connection, render_as_batch=True, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_store_engine(load_settings().warehouse_url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
