"""SQS and scheduled entry points: thin translations from events to core calls."""
