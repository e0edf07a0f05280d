"""The faces: how a run is asked for and answered (HTTP, CloudEvent, command line, checks).

Each one parses its input into a request, calls :mod:`rotation.service`, and formats the
outcome for its caller; the differences between faces are data, not separate roads.
"""
