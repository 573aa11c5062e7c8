"""The catalog: read with source positions (loader), checked (validate, quota_checks), turned into the typed
model (model, naming, cost) and described (reference)."""
