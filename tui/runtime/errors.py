"""The runtime's errors: each message is one line a user can act on."""


class ModelError(Exception):
    """A model is missing, unreadable or has metadata the runtime cannot use."""


class UnusableModel(ModelError):
    """A model that loads but breaks the contract (docs/model-contract.md): nothing runs it."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"model {name} is unusable: {reason}")
        self.name, self.reason = name, reason


class DeviceError(Exception):
    """The requested device (`--device cuda`) cannot run here."""
