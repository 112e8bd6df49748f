"""The notification outbox: every webhook, e-mail and TOPdesk call is a row first, sent by a job.

A row is written in the same transaction as the ticket change it reports, so a restart or a
receiver that is down loses nothing; a delivery keeps its id across retries, so a receiver can drop
repeats (webhooks), and TOPdesk is searched by externalNumber before an incident is created.
"""
