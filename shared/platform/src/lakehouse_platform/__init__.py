"""The platform products stand on: the local stack, the CLI, and the smoke pipeline."""
