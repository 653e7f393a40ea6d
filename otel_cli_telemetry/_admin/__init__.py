"""The admin commands (``status``, ``enable``, ``disable``, ``show``, ``flush``) that the
module CLI and the framework integrations share."""
