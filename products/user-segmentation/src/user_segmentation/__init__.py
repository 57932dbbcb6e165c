"""One person across web and mobile: an identity graph, behavioural features, rule and ML segments with membership history."""
