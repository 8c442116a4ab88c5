"""Energy readings pipeline: the domain code shared by the Lambda, the CLI and the app.

This package imports only the standard library and boto3, because it is zipped into the
Lambda function as it is.
"""
