"""Getting app events in: a seeded traffic generator in the Segment mobile SDKs' wire format."""
