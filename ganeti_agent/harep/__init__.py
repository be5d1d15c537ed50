"""ganeti-harep: Ganeti's autorepair tool, over LUXI (on the master) or RAPI (from anywhere)."""
