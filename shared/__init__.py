"""Code the gateway and the workers share: config, models, stores and domain rules."""
