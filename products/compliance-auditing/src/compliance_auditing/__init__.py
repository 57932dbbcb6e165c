"""Privacy and audit: a tamper-evident audit trail, proven erasure across every table and its history, retention, access requests."""
