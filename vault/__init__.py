"""The vault domain: subjects, records, checks, retention. No HTTP in it."""
