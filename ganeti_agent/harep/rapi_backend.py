"""harep over RAPI (placeholder until the RAPI driver lands)."""
