"""PSP webhooks: the endpoints (``views``), the outbox drain (``processing``), the handler
registry (``registry``) and payments' own handlers (``handlers``)."""
