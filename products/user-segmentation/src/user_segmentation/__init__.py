"""user-segmentation: one person across web and mobile (an identity graph over both products'
identity links), daily behavioural features per person, and rule segments with a membership
history whose every entry and exit is published to ``segments.membership.v1``."""

PRODUCT = "user-segmentation"
