"""mobile-user-analytics: mobile app events from tracking SDKs to active users, sessions,
screen flows, install cohorts, version adoption and crash-free rates, served over REST."""

PRODUCT = "mobile-user-analytics"
