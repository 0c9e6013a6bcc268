"""Calibration of the scenario's market models from price history."""
