"""The operations side: what people and the app run against a stack, never the Lambda.

Creating the stack (`bootstrap`), the CLI, the simulator, browsing raw files, health,
dead letters, alert history, verification, the site registry's import and edits, and
analysts' record edits. The Lambda package leaves this folder out (scripts/package_lambda.py).
"""
