"""Declarative data-quality expectations on DataFrames, with warn / drop / fail actions."""
