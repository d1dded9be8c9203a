"""Modal dialogs opened on top of a screen: the remediation dialog, the plan picker in
front of it, and the culprit's full CloudTrail event."""
