"""The one exception type for errors a user can cause (bad path, unreadable image, foreign checkpoint).

The CLI catches it and prints its message on one line; anything else is a bug and keeps its traceback.
"""


class DeepfakeError(Exception):
    """A problem with the user's input, worded so the message alone says which file and what to do."""
