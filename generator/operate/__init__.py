"""Commands that talk to AWS (imported lazily, never by `render`): deploy and rollback, migration waves and
checks, preflight, and the one AWS session factory (aws)."""
