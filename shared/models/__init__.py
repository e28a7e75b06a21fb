"""Request and response models: the API's contracts, also the source of ``/openapi.json``."""
