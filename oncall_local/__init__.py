"""The local runtime behind `make run`: embedded DynamoDB, sweep timer, API and console."""
