"""Compatible faces: other products' APIs, as thin adapters over Linkport's own domain.

Each face declares its routes with the same endpoint mechanism as the native API (so
``/openapi.json`` documents it under its own tag), answers its clients' shapes and error
shape, and calls the same domain functions as the native views: a face converts, it never
implements tokens, configs or events a second time.
"""
