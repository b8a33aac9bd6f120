"""The incident domain: every source of an incident feeds one lifecycle, escalation and page.

| module | holds |
| --- | --- |
| `lifecycle` | open (dedup, occurrences), acknowledge, resolve, reopen, note, assign; the timeline |
| `escalation` | the pure escalation engine: incident + frozen policy + on-call + now -> actions |
| `escalator` | applies the engine's actions to the store (timeline, outbox); the sweep |
| `delivery` | routes from an action to a contact's channels, and the outbox rows for them |
| `hook_reports` | what a flow's state hook records, applied now or replayed from the spool |
| `missed_runs` | the watch for runs that never happened or died without a hook |
| `status_updates` | Severity-1 status updates, append-only and hash-chained |
| `update_cadence` | reminders before an update is due, escalation once it is overdue |
| `stakeholders` | who hears about a Severity-1 update |
"""
