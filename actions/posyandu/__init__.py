"""Posyandu directory: regions, records, schedules, lookup by name and by location."""
