"""One module per training method; each has ``build(plan, model, args, callbacks)`` -> a TRL trainer."""
