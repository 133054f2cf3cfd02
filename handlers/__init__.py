"""API Gateway entry points: thin translations from events to core calls and back."""
