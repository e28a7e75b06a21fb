"""Compatible faces: other products' APIs served over Linkport's own domain functions.

Each face is a thin adapter module (its routes declared with ``endpoints.Router`` under its own
OpenAPI tag, its own error body through ``endpoints.ErrorShape``); the rules stay in ``shared/``.
"""
