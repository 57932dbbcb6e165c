"""mobile-user-analytics' REST API: gold tables (and silver sessions for per-device lookups) read
through delta-rs, built by :func:`mobile_user_analytics.serving.app.create_app`."""
