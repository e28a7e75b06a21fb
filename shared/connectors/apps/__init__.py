"""One small module per catalog app that has actions, named after its slug (``hubspot.py``),
each exporting ``ACTIONS``: a tuple of :class:`shared.connectors.base.Action`."""
