"""The core rules: pure, with no I/O and no import of a service, adapter or face.

Configuration, durations and schedules, the refresh decision, the retention plan, what each
outcome promises, Secret Manager's notifications, what versions cost, and the ports (what the
service needs from the outside world, as protocols).
"""
