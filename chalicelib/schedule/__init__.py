"""Who is on call: shifts and the final schedule (oncall), rotations (rotations), local
times across daylight-saving changes (wallclock), and calendar export (ical)."""
