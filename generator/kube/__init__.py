"""`import`: Kubernetes manifests to a catalog (importer), with names (names), values (env) and the
migration report (report)."""
