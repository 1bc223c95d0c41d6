"""tns: TNS (Firebird ERP) discovery and inventory-movement extraction; tenant API keys."""
