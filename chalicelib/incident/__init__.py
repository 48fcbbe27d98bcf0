"""Incidents: trigger, acknowledge, resolve, reassign and read them (incidents), the
incidents table's writes (store), alert deduplication (dedup), the history (timeline),
bulk actions (bulk), MTTA/MTTR counters (metrics), what integrations attach
(details) and the log of every transition (alert_log)."""
