"""`import`: Kubernetes manifests (manifests) to a catalog (importer), with quantities and schedules (quantities),
names (names), values (env), the migration report (report), and the checked catalog file (catalog_file)."""
