"""``ganeti-move-instance``: move instances between Ganeti clusters over RAPI.

Layers, pure first: ``params`` (Ganeti's key=value option syntax and type
rules), ``options`` (the command line and its checks), ``plan`` (the request
bodies for one move), then ``mover`` (the conversation with both clusters on
the reactor) and ``cli`` (the program: logging, exit codes).
"""
