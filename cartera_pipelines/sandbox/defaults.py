"""What an unset variable means in sandbox mode: the embedded stores under ``CARTERA_HOME``, the local
Contifico simulator and the local webhook receiver, with their ports, key and secret.

``settings.py`` reads this module only when ``CARTERA_ENV`` is ``sandbox`` (the default); in production
mode none of these values can reach a resource. The key and the secret guard nothing but this machine's
sandbox: they are published on purpose.
"""

from __future__ import annotations

CONTIFICO_PORT = 8765
"""Where ``cartera sandbox serve`` runs the Contifico simulator."""
WEBHOOK_PORT = 8766
"""Where ``cartera sandbox serve`` runs the factoring outbox's webhook receiver."""
WEBHOOK_PATH = "/webhooks/cartera"
CONTIFICO_API_KEY = "sandbox-contifico-key"
WEBHOOK_SECRET = "sandbox-webhook-secret"

DEFAULTS: dict[str, str] = {
    "CARTERA_LENDING_URL": "sqlite:///$CARTERA_HOME/lending.db",
    "CARTERA_OPERATIONS_URL": "sqlite:///$CARTERA_HOME/operations.db",
    "CARTERA_WAREHOUSE_URL": "sqlite:///$CARTERA_HOME/warehouse.db",
    "CARTERA_TNS_SERVERS": "$CARTERA_HOME/tns_servers.yaml",
    "CONTIFICO_API_BASE_URL": f"http://127.0.0.1:{CONTIFICO_PORT}/sistema/api/",
    "CONTIFICO_API_KEY": CONTIFICO_API_KEY,
    "MLFLOW_TRACKING_URI": "sqlite:///$CARTERA_HOME/mlflow.db",
    "CARTERA_WEBHOOK_URLS": f"http://127.0.0.1:{WEBHOOK_PORT}{WEBHOOK_PATH}",
    "CARTERA_WEBHOOK_SECRET": WEBHOOK_SECRET,
}
"""Variable name → sandbox default (``$CARTERA_HOME`` is replaced by the absolute home directory)."""
