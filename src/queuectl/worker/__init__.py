"""Workers: the supervisor, the worker loop and the command runner."""
