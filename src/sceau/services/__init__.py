"""The HTTP services; each builds Starlette routes on top of the engine or the CA."""
