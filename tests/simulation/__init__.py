"""A deterministic simulation of paygate's pipeline (issue #26): merchants, the jobs queue,
worker instances, the reconciler and an operator replaying the DLQ, on the in-memory fakes
and a virtual clock, with a fault possible at every port call. One seed is one run: the same
seed takes the same steps, so a failing seed is replayed exactly (`make simulate SEED=n`)."""
