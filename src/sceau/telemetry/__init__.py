"""What a running instance tells its operator: log lines (:mod:`.logs`), request ids
(:mod:`.requests`) and Prometheus metrics (:mod:`.metrics`)."""
