"""Bronze → silver transforms of web-user-analytics: parsing, enrichment, deduplication, sessions."""
