"""The consent commands (status, enable, local, disable, reset, disclosure, show, flush) that
the module CLI and the framework integrations share: ``cli`` holds the table they are built
from, ``status``, ``show`` and ``disclosure`` what those commands print."""
