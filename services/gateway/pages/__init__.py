"""HTML pages and browser-facing routes: the hosted Link flow, the sandbox provider, the JS SDK."""
