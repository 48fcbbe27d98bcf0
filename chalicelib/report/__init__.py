"""Reports over time: per service and UTC day counts written with the transitions
(buckets), and the report that adds them up by day or ISO week (reports)."""
