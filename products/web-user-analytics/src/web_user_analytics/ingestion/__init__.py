"""Getting events in: a seeded traffic generator that speaks the Segment tracking API."""
