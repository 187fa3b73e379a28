"""The runtime's errors: each message is one line a user can act on."""


class ModelError(Exception):
    """A model is missing, unreadable or has metadata the runtime cannot use."""


class DeviceError(Exception):
    """The requested device (`--device cuda`) cannot run here."""
