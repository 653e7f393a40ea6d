"""Taking an impostor out of the way (a link, a file or a directory where the state dir
expects something of ours), without following it. Loaded only when one is found."""

import os
import stat
import time


def move_aside(path: "str | os.PathLike[str]") -> None:
    """A link or non-directory is unlinked; a directory is renamed to a hidden name (we
    never delete what we did not make). Gone already: nothing to do."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    try:
        if stat.S_ISDIR(st.st_mode):
            head, name = os.path.split(path)
            os.replace(path, os.path.join(head, f".bad-{name}-{time.time_ns()}"))
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
