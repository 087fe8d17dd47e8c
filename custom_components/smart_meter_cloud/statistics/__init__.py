"""Hourly long-term statistics of every consumption register, right by the hour.

`rows` turns meter totals into hourly rows (pure), `recorder` reads and
writes them in Home Assistant's recorder, and `importer` decides what to
fetch from the cloud and when: backfill, extension, corrections.
"""
