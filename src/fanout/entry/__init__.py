"""The front doors, one module per event source, and the one map from errors to answers.

Start here: ``router.handle_event`` tells an event's way in by its shape and hands it to
``direct`` (a direct invoke), ``schedule`` (EventBridge), ``api`` (the HTTP API, Powertools'
resolver) or ``sqs`` (the shard queue). ``problems`` is the one table from domain errors to
problem+json and typed invoke errors; ``schemas`` describes the HTTP API's answers for its
OpenAPI document; ``snapstart`` holds the SnapStart hooks.
"""
