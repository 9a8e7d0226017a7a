"""Finding model processes from outside (mlloop.serving.model_process): the children of a multiprocessing forkserver."""

import psutil


def model_processes(root: psutil.Process) -> list[psutil.Process]:
    """The model processes among `root`'s descendants."""
    return [
        process
        for process in root.children(recursive=True)
        if "multiprocessing.forkserver" in " ".join(process.parent().cmdline())
    ]
