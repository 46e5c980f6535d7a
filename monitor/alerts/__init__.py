"""Alerts: rules over stored figures, the dead man's switch, state, outbox and channels.

`settings` is the ``[alerts]`` config; `rules` and `deadman` turn stored history into
evaluations; `state` decides transitions (firing, repeat, resolved); `engine` runs one
evaluation transactionally and `delivery` empties the outbox with bounded retries;
`channels/` holds one adapter per channel kind; `messages` renders each format.
"""
