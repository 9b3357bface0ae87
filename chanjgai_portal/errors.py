"""Domain errors that the web layers turn into responses, below every app: an app raises a
subclass (tasks.workflow.WorkflowError), and DomainErrorMiddleware and api.errors map the base
class without importing the app that raised it."""


class Conflict(Exception):
    """The state of the data does not allow the request, e.g. someone acted first (HTTP 409).
    `message` is shown to the user."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message
