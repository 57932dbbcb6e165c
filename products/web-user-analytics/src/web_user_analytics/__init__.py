"""web-user-analytics: web traffic from tracking SDKs to sessions, traffic, pages, acquisition,
funnels and retention, served over REST."""

PRODUCT = "web-user-analytics"
