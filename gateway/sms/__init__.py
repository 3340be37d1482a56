"""SMS: the inbound webhook, commands, encoding for basic phones, digests and providers."""
