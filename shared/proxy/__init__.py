"""The proxy: a tenant's own calls to an app's API through one of its connections."""
