"""The domain: the payment state machine, cards, currencies, the rules for what merchants
send, the errors of paygate (no HTTP), and the ports (Protocols) the use cases need from
the outside world. Pure: no AWS SDK, no HTTP, no Lambda."""
