"""Backups of the lake's Delta tables and point-in-time restores from them.

A backup copies each catalogued table's files to the backup root, only those not copied before
(Delta data and log files never change once written), and records what it holds in a manifest.
A restore copies one backup's files of a table back, up to a chosen version; a drill restores
every table into scratch space and compares it, row for row, with the source at that version.
"""
