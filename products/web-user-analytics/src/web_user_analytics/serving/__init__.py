"""web-user-analytics' REST API: gold tables (and silver sessions for per-visitor lookups) read
through delta-rs, built by :func:`web_user_analytics.serving.app.create_app`."""
