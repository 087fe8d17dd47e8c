"""Home Assistant-free clients for the cloud metering platforms."""
